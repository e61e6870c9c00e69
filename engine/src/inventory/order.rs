//! The order state machine: one number bought, from the hold it came from to assignment,
//! expiry or refusal.
//!
//! ```text
//!            Paid (enterprise: and Approve)
//!   Open ──────────────────────────────────▶ Assigned
//!    │ │  pay_by passes unpaid
//!    │ └──────────────────────────────────▶ Expired
//!    │    Refuse (enterprise only)
//!    └────────────────────────────────────▶ Refused
//! ```
//!
//! Payments and approval may come in either order; the second one assigns. Every payment is
//! recorded once by its id (a webhook delivered twice is one payment); a payment that comes
//! to a closed order, repeats a paid one under another id or does not match the price is
//! recorded as not counted and changes nothing else. Time is a parameter (`now`), so expiry
//! is tested without waiting.

use crate::store::AccountRecord;

use super::{NumberKind, Price, UnixTime};

/// Whether an order waits for the operator.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Approval {
    /// Personal and range numbers are sold without approval.
    NotNeeded,
    Waiting,
    Approved,
}

/// Where an order is.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum OrderState {
    /// Waiting for payment, approval or both.
    Open,
    /// The number is the buyer's and the account is written.
    Assigned,
    /// Not paid in time; the number is for sale again.
    Expired,
    /// The operator said no; the number is for sale again.
    Refused { reason: String },
}

/// One payment the order was told of.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct PaymentRecord {
    /// The provider's payment id (`manual-<reference>` for the manual provider).
    pub id: String,
    pub amount: Price,
    pub at: UnixTime,
    /// Whether it paid the order; false: recorded only (late, refused, twice, wrong amount).
    pub counted: bool,
    pub note: String,
}

/// An order for one number.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Order {
    pub id: String,
    /// The number's key (`Listed::key`) and how people write it.
    pub number: String,
    pub display: String,
    pub kind: NumberKind,
    /// The account the number becomes, and its credentials (HA1 values of the password the
    /// buyer chose), written on assignment.
    pub account: String,
    pub credentials: AccountRecord,
    pub price: Price,
    pub created: UnixTime,
    /// Unpaid at this time: the order expires.
    pub pay_by: UnixTime,
    pub approval: Approval,
    pub paid: bool,
    pub state: OrderState,
    pub payments: Vec<PaymentRecord>,
    /// The provider's payment id and the page the buyer pays on, when a provider made one.
    pub provider_payment: Option<String>,
    pub redirect_url: Option<String>,
    /// When the state last changed.
    pub updated: UnixTime,
}

/// What happens to an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderInput {
    /// The provider (or the operator) says this payment succeeded.
    Paid { payment: String, amount: Price },
    /// The operator approves an enterprise order.
    Approve,
    /// The operator refuses an enterprise order.
    Refuse { reason: String },
    /// Time passed: an unpaid order past `pay_by` expires.
    Tick,
}

/// What an input did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStep {
    /// The order is complete: assign the number and write the account.
    Assign,
    /// The order closed without a sale: the number is for sale again.
    Release,
    /// Recorded; still open (waiting for the other of payment and approval).
    Progressed,
    /// A payment recorded without counting; nothing else changed.
    Recorded,
    /// Already done (the same payment id, a second approval): nothing changed.
    Duplicate,
    /// Nothing to do (a tick before the deadline).
    Unchanged,
}

/// An input the order cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OrderError {
    #[error("only enterprise orders are approved or refused")]
    NoApprovalNeeded,
    #[error("the order is {0} already")]
    Closed(&'static str),
}

impl Order {
    /// The state as the API names it: `pending` (waiting for approval), `awaiting_payment`,
    /// `assigned`, `expired` or `refused`.
    pub fn label(&self) -> &'static str {
        match (&self.state, &self.approval) {
            (OrderState::Open, Approval::Waiting) => "pending",
            (OrderState::Open, _) => "awaiting_payment",
            (OrderState::Assigned, _) => "assigned",
            (OrderState::Expired, _) => "expired",
            (OrderState::Refused { .. }, _) => "refused",
        }
    }

    /// Whether `Tick` at `now` would expire it.
    pub fn is_due(&self, now: UnixTime) -> bool {
        self.state == OrderState::Open && !self.paid && now >= self.pay_by
    }

    /// Takes one input at `now`.
    pub fn handle(&mut self, now: UnixTime, input: OrderInput) -> Result<OrderStep, OrderError> {
        if self.is_due(now) {
            self.state = OrderState::Expired;
            self.updated = now;
            if let OrderInput::Paid { payment, amount } = input {
                if !self.payments.iter().any(|p| p.id == payment) {
                    self.record(now, payment, amount, false, "after the order expired");
                }
            }
            return Ok(OrderStep::Release);
        }
        match input {
            OrderInput::Tick => Ok(OrderStep::Unchanged),
            OrderInput::Paid { payment, amount } => Ok(self.paid(now, payment, amount)),
            OrderInput::Approve => {
                if self.approval == Approval::NotNeeded {
                    return Err(OrderError::NoApprovalNeeded);
                }
                match self.state {
                    OrderState::Open if self.approval == Approval::Waiting => {
                        self.approval = Approval::Approved;
                        self.updated = now;
                        Ok(self.complete_if_ready())
                    }
                    OrderState::Open | OrderState::Assigned => Ok(OrderStep::Duplicate),
                    _ => Err(OrderError::Closed(self.label())),
                }
            }
            OrderInput::Refuse { reason } => {
                if self.approval == Approval::NotNeeded {
                    return Err(OrderError::NoApprovalNeeded);
                }
                match self.state {
                    OrderState::Open => {
                        self.state = OrderState::Refused { reason };
                        self.updated = now;
                        Ok(OrderStep::Release)
                    }
                    OrderState::Refused { .. } => Ok(OrderStep::Duplicate),
                    _ => Err(OrderError::Closed(self.label())),
                }
            }
        }
    }

    fn paid(&mut self, now: UnixTime, payment: String, amount: Price) -> OrderStep {
        if self.payments.iter().any(|p| p.id == payment) {
            return OrderStep::Duplicate;
        }
        let note = match self.state {
            OrderState::Open if self.paid => "the order was paid already",
            OrderState::Open if amount != self.price => "the amount is not the order's price",
            OrderState::Open => "",
            OrderState::Assigned => "the order was paid already",
            OrderState::Expired => "after the order expired",
            OrderState::Refused { .. } => "after the order was refused",
        };
        if !note.is_empty() {
            self.record(now, payment, amount, false, note);
            return OrderStep::Recorded;
        }
        self.record(now, payment, amount, true, "");
        self.paid = true;
        self.updated = now;
        self.complete_if_ready()
    }

    fn complete_if_ready(&mut self) -> OrderStep {
        if self.paid && self.approval != Approval::Waiting {
            self.state = OrderState::Assigned;
            OrderStep::Assign
        } else {
            OrderStep::Progressed
        }
    }

    fn record(&mut self, now: UnixTime, id: String, amount: Price, counted: bool, note: &str) {
        self.payments.push(PaymentRecord {
            id,
            amount,
            at: now,
            counted,
            note: note.to_owned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: UnixTime = UnixTime(1_000_000);

    fn krw(minor: u64) -> Price {
        Price {
            minor,
            currency: "KRW".into(),
        }
    }

    fn order(kind: NumberKind) -> Order {
        Order {
            id: "o1".into(),
            number: "62006200#082".into(),
            display: "6200-6200#082".into(),
            kind,
            account: "ent-62006200-082".into(),
            credentials: AccountRecord {
                realm: "r".into(),
                credentials: Vec::new(),
                created_unix: 0,
            },
            price: krw(5000),
            created: T0,
            pay_by: UnixTime(T0.0 + 1800),
            approval: if kind == NumberKind::Enterprise {
                Approval::Waiting
            } else {
                Approval::NotNeeded
            },
            paid: false,
            state: OrderState::Open,
            payments: Vec::new(),
            provider_payment: None,
            redirect_url: None,
            updated: T0,
        }
    }

    fn pay(id: &str, minor: u64) -> OrderInput {
        OrderInput::Paid {
            payment: id.into(),
            amount: krw(minor),
        }
    }

    #[test]
    fn a_personal_order_is_assigned_when_paid() {
        let mut o = order(NumberKind::Personal);
        assert_eq!(o.label(), "awaiting_payment");
        assert_eq!(o.handle(T0, pay("p1", 5000)), Ok(OrderStep::Assign));
        assert_eq!(o.state, OrderState::Assigned);
        assert!(o.payments[0].counted);
    }

    #[test]
    fn a_payment_delivered_twice_assigns_once_and_is_recorded_once() {
        let mut o = order(NumberKind::Personal);
        assert_eq!(o.handle(T0, pay("p1", 5000)), Ok(OrderStep::Assign));
        assert_eq!(o.handle(T0, pay("p1", 5000)), Ok(OrderStep::Duplicate));
        assert_eq!(o.payments.len(), 1);
        // another payment for a paid order: recorded, not counted, no second assignment
        assert_eq!(o.handle(T0, pay("p2", 5000)), Ok(OrderStep::Recorded));
        assert_eq!(o.payments.len(), 2);
        assert!(!o.payments[1].counted);
        assert_eq!(o.state, OrderState::Assigned);
    }

    #[test]
    fn an_enterprise_order_needs_both_payment_and_approval_in_either_order() {
        let mut paid_first = order(NumberKind::Enterprise);
        assert_eq!(paid_first.label(), "pending");
        assert_eq!(
            paid_first.handle(T0, pay("p1", 5000)),
            Ok(OrderStep::Progressed)
        );
        assert_eq!(paid_first.label(), "pending");
        assert_eq!(
            paid_first.handle(T0, OrderInput::Approve),
            Ok(OrderStep::Assign)
        );
        assert_eq!(
            paid_first.handle(T0, OrderInput::Approve),
            Ok(OrderStep::Duplicate)
        );

        let mut approved_first = order(NumberKind::Enterprise);
        assert_eq!(
            approved_first.handle(T0, OrderInput::Approve),
            Ok(OrderStep::Progressed)
        );
        assert_eq!(approved_first.label(), "awaiting_payment");
        assert_eq!(
            approved_first.handle(T0, pay("p1", 5000)),
            Ok(OrderStep::Assign)
        );
        assert_eq!(approved_first.state, OrderState::Assigned);
    }

    #[test]
    fn a_refused_order_releases_its_number_and_later_payments_are_only_recorded() {
        let mut o = order(NumberKind::Enterprise);
        let refuse = OrderInput::Refuse {
            reason: "reserved for the city".into(),
        };
        assert_eq!(o.handle(T0, refuse.clone()), Ok(OrderStep::Release));
        assert_eq!(o.label(), "refused");
        assert_eq!(o.handle(T0, refuse), Ok(OrderStep::Duplicate));
        assert_eq!(o.handle(T0, pay("p1", 5000)), Ok(OrderStep::Recorded));
        assert!(!o.payments[0].counted);
        assert_eq!(
            o.handle(T0, OrderInput::Approve),
            Err(OrderError::Closed("refused"))
        );
    }

    #[test]
    fn an_assigned_order_cannot_be_refused() {
        let mut o = order(NumberKind::Enterprise);
        o.handle(T0, OrderInput::Approve).unwrap();
        o.handle(T0, pay("p1", 5000)).unwrap();
        let refuse = OrderInput::Refuse { reason: "x".into() };
        assert_eq!(o.handle(T0, refuse), Err(OrderError::Closed("assigned")));
    }

    #[test]
    fn personal_orders_are_not_approved_or_refused() {
        let mut o = order(NumberKind::Personal);
        assert_eq!(
            o.handle(T0, OrderInput::Approve),
            Err(OrderError::NoApprovalNeeded)
        );
        let refuse = OrderInput::Refuse { reason: "x".into() };
        assert_eq!(o.handle(T0, refuse), Err(OrderError::NoApprovalNeeded));
    }

    #[test]
    fn an_unpaid_order_expires_at_its_deadline_and_a_late_payment_is_recorded_only() {
        let mut o = order(NumberKind::Personal);
        let before = UnixTime(o.pay_by.0 - 1);
        assert_eq!(o.handle(before, OrderInput::Tick), Ok(OrderStep::Unchanged));
        assert_eq!(o.handle(o.pay_by, OrderInput::Tick), Ok(OrderStep::Release));
        assert_eq!(o.label(), "expired");
        let late = UnixTime(o.pay_by.0 + 5);
        assert_eq!(o.handle(late, pay("p1", 5000)), Ok(OrderStep::Recorded));
        assert_eq!(o.payments.len(), 1);
        assert!(!o.payments[0].counted);
        assert_eq!(o.state, OrderState::Expired);
    }

    #[test]
    fn a_payment_arriving_after_the_deadline_expires_the_order_and_is_recorded() {
        let mut o = order(NumberKind::Personal);
        let late = UnixTime(o.pay_by.0 + 1);
        assert_eq!(o.handle(late, pay("p1", 5000)), Ok(OrderStep::Release));
        assert_eq!(o.state, OrderState::Expired);
        assert_eq!(o.payments.len(), 1);
        assert!(!o.payments[0].counted);
        assert_eq!(o.handle(late, pay("p1", 5000)), Ok(OrderStep::Duplicate));
    }

    #[test]
    fn a_paid_order_waiting_for_approval_does_not_expire() {
        let mut o = order(NumberKind::Enterprise);
        o.handle(T0, pay("p1", 5000)).unwrap();
        let later = UnixTime(o.pay_by.0 + 86_400);
        assert_eq!(o.handle(later, OrderInput::Tick), Ok(OrderStep::Unchanged));
        assert_eq!(o.handle(later, OrderInput::Approve), Ok(OrderStep::Assign));
    }

    #[test]
    fn a_wrong_amount_is_recorded_but_does_not_pay() {
        let mut o = order(NumberKind::Personal);
        assert_eq!(o.handle(T0, pay("p1", 4999)), Ok(OrderStep::Recorded));
        assert!(!o.paid);
        assert_eq!(o.state, OrderState::Open);
        assert_eq!(o.handle(T0, pay("p2", 5000)), Ok(OrderStep::Assign));
    }
}
