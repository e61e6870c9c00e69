//! The simulated subscribers as the shards see them: numbers and passwords from the
//! scenario's population, and the Contact user part of each device (`u<user>d<device>`), by
//! which a request the server sends to a device finds it.

use crate::core::scenario::Population;
use crate::core::User;

pub struct People {
    population: Population,
}

impl People {
    pub fn new(population: Population) -> People {
        People { population }
    }

    pub fn number(&self, user: User) -> String {
        self.population.number(user)
    }

    pub fn password(&self, user: User) -> String {
        self.population.password(user)
    }

    /// The Contact user part of a device.
    /// Who `user`'s `device` is to the switch: number, password and Contact user.
    pub fn identity(&self, user: User, device: u32) -> crate::core::agent::Identity {
        crate::core::agent::Identity {
            number: self.number(user),
            password: self.password(user),
            contact_user: People::contact_user(user, device),
        }
    }

    pub fn contact_user(user: User, device: u32) -> String {
        format!("u{user}d{device}")
    }

    /// The device a Contact user part names.
    pub fn device_of(contact_user: &str) -> Option<(User, u32)> {
        let rest = contact_user.strip_prefix('u')?;
        let (u, d) = rest.split_once('d')?;
        Some((u.parse().ok()?, d.parse().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_found_again_from_its_contact_user() {
        assert_eq!(
            People::device_of(&People::contact_user(42, 3)),
            Some((42, 3))
        );
        assert_eq!(People::device_of("alice"), None);
        assert_eq!(People::device_of("u1dx"), None);
    }
}
