//! [`Id`]: an identifier or name from the registrations table (registration, offer, SKU,
//! merchant, activity), held once and shared by every finding and verdict that names it.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A shared, immutable string: cloning it copies a pointer. A registration-heavy dump's findings
/// name their registration, offer, SKU, merchant and activity millions of times; as `String`s
/// each was an allocation of its own.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(Arc<str>);

impl Id {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Id {
    /// The empty id (one allocation for the process).
    fn default() -> Id {
        static EMPTY: std::sync::OnceLock<Id> = std::sync::OnceLock::new();
        EMPTY.get_or_init(|| Id(Arc::from(""))).clone()
    }
}

impl Deref for Id {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Id {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Id {
        Id(Arc::from(s))
    }
}

impl From<String> for Id {
    fn from(s: String) -> Id {
        Id(Arc::from(s))
    }
}

impl PartialEq<str> for Id {
    fn eq(&self, o: &str) -> bool {
        &*self.0 == o
    }
}

impl PartialEq<&str> for Id {
    fn eq(&self, o: &&str) -> bool {
        &*self.0 == *o
    }
}

impl PartialEq<String> for Id {
    fn eq(&self, o: &String) -> bool {
        *self.0 == **o
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl serde::Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Makes each distinct text one [`Id`]: the names that repeat over rows (offers, merchants,
/// activities) are then held once.
#[derive(Default)]
pub struct Interner(std::collections::HashSet<Id>);

impl Interner {
    pub fn id(&mut self, s: &str) -> Id {
        if let Some(id) = self.0.get(s) {
            return id.clone();
        }
        let id = Id::from(s);
        self.0.insert(id.clone());
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_one_id_and_the_text_kept() {
        let mut i = Interner::default();
        let (a, b, c) = (i.id("M1"), i.id("M1"), i.id("M2"));
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert!(!Arc::ptr_eq(&a.0, &c.0));
        assert_eq!((a.as_str(), c.as_str()), ("M1", "M2"));
        assert_eq!(Id::default().as_str(), "");
        assert_eq!(format!("{a} {a:?}"), "M1 \"M1\"");
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"M2\"");
    }
}
