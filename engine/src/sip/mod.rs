//! The SIP message layer: parsing in place, typed header views, validation, building and
//! forwarding (RFC 3261 §7, §8, §16, §18, §19, §20, §25).

mod at;
pub mod builder;
pub mod cseq;
pub mod digest;
pub mod forward;
pub mod framing;
pub mod header;
pub mod lex;
pub mod malformed;
pub mod message;
pub mod method;
pub mod name_addr;
pub mod parse_error;
pub mod span;
pub mod start_line;
pub mod uri;
pub mod validate;
pub mod via;

pub use builder::{RequestBuilder, ResponseBuilder, ViaFix};
pub use forward::Forward;
pub use header::HeaderName;
pub use message::{CSeq, Message, ParseError, Reaction};
pub use method::Method;
pub use name_addr::NameAddr;
pub use uri::{Scheme, Uri};
pub use via::Via;

/// Standard reason phrase for a status code (RFC 3261 §21).
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => match code / 100 {
            1 => "Progress",
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}
