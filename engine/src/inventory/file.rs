//! The inventory file: price classes and blocks of numbers, one per line. The same text is
//! loaded from the file named in the configuration and over HTTP.
//!
//! ```text
//! ; a comment; blank lines are skipped
//! class standard 10000 KRW
//! class golden 500000 KRW
//! block personal standard 100 02-6200-6200-000
//! block enterprise golden 1 6200-7777#082
//! block range standard 1000 +82 11 555 0000
//! ```
//!
//! `class <name> <price in minor units> <currency>` names a price; `block <kind> <class>
//! <count> <first number>` offers `count` numbers from `first` up (the first number is the
//! rest of the line, separators and spaces allowed, and is spelled like the kind: see
//! `listing::nth`). The country of a block is its numbers' own. A block names a class
//! defined on an earlier line or already known to the desk.

use super::{is_class_name, NumberKind, Price, PriceClass};

/// Most numbers one block line may offer.
pub const MAX_BLOCK: u64 = 1_000_000;

/// A `block` line.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct BlockLine {
    pub kind: NumberKind,
    pub class: String,
    pub count: u64,
    pub first: String,
}

/// One meaningful line of an inventory file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InventoryLine {
    Class(PriceClass),
    Block(BlockLine),
}

/// Why an inventory text was refused (nothing of it is loaded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("inventory line {line}: {message}")]
pub struct InventoryError {
    pub line: usize,
    pub message: String,
}

/// Reads an inventory text; the first bad line refuses the whole text.
pub fn parse_inventory(text: &str) -> Result<Vec<InventoryLine>, InventoryError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        let bad = |message: &str| InventoryError {
            line: i + 1,
            message: message.to_owned(),
        };
        let mut words = line.split_ascii_whitespace();
        match words.next() {
            Some("class") => {
                let (Some(name), Some(minor), Some(currency), None) =
                    (words.next(), words.next(), words.next(), words.next())
                else {
                    return Err(bad("expected: class <name> <minor units> <currency>"));
                };
                if !is_class_name(name) {
                    return Err(bad("a class name is [a-z0-9_-], at most 32"));
                }
                let minor = minor
                    .parse::<u64>()
                    .map_err(|_| bad("the price is a whole number of minor units"))?;
                if !Price::is_currency(currency) {
                    return Err(bad("the currency is three upper-case letters"));
                }
                out.push(InventoryLine::Class(PriceClass {
                    name: name.to_owned(),
                    price: Price {
                        minor,
                        currency: currency.to_owned(),
                    },
                }));
            }
            Some("block") => {
                let (Some(kind), Some(class), Some(count)) =
                    (words.next(), words.next(), words.next())
                else {
                    return Err(bad("expected: block <kind> <class> <count> <first number>"));
                };
                let kind = NumberKind::parse(kind)
                    .ok_or_else(|| bad("the kind is personal, enterprise or range"))?;
                if !is_class_name(class) {
                    return Err(bad("a class name is [a-z0-9_-], at most 32"));
                }
                let count = count
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=MAX_BLOCK).contains(n))
                    .ok_or_else(|| bad("the count is 1 to 1000000"))?;
                let first = words.collect::<Vec<_>>().join(" ");
                if first.is_empty() || first.len() > crate::numbering::MAX_DIALED {
                    return Err(bad("the first number is missing or too long"));
                }
                out.push(InventoryLine::Block(BlockLine {
                    kind,
                    class: class.to_owned(),
                    count,
                    first,
                }));
            }
            _ => return Err(bad("a line is a class, a block or a ; comment")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_blocks_are_read_and_comments_skipped() {
        let text =
            "; prices\nclass golden 500000 KRW\n\n  block personal golden 10 02-6200 6200-082\n";
        let lines = parse_inventory(text).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            InventoryLine::Class(PriceClass {
                name: "golden".into(),
                price: Price {
                    minor: 500_000,
                    currency: "KRW".into()
                }
            })
        );
        let InventoryLine::Block(b) = &lines[1] else {
            panic!("a block")
        };
        assert_eq!(b.kind, NumberKind::Personal);
        assert_eq!(b.count, 10);
        assert_eq!(b.first, "02-6200 6200-082");
    }

    #[test]
    fn a_bad_line_is_named_by_its_number() {
        for (text, line) in [
            ("class golden 5.5 KRW", 1),
            ("class golden 5 krw", 1),
            ("; ok\nblock mobile std 1 0101234", 2),
            ("block personal std 0 02-6200-6200-082", 1),
            ("block personal std 1000001 02-6200-6200-082", 1),
            ("block personal std 3", 1),
            ("class Gold 5 KRW", 1),
            ("sell 1", 1),
        ] {
            assert_eq!(parse_inventory(text).unwrap_err().line, line, "{text}");
        }
    }
}
