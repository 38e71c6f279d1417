//! A data set's sample values: its own, or shared with an owner that keeps them alive (a NumPy
//! array handed in by the Python package), so that a large input is not copied.

use std::ops::Deref;
use std::sync::Arc;

/// Values that live elsewhere and stay put and alive while this handle exists.
pub trait SharedValues: Send + Sync {
    fn values(&self) -> &[f32];
}

#[derive(Clone)]
pub enum Values {
    Owned(Vec<f32>),
    Shared(Arc<dyn SharedValues>),
}

impl Values {
    /// The values as a vector of their own (a copy when shared).
    pub fn into_vec(self) -> Vec<f32> {
        match self {
            Values::Owned(v) => v,
            Values::Shared(s) => s.values().to_vec(),
        }
    }
    /// The values to change in place: shared values are copied first.
    pub fn make_mut(&mut self) -> &mut Vec<f32> {
        if let Values::Shared(s) = self {
            *self = Values::Owned(s.values().to_vec());
        }
        match self {
            Values::Owned(v) => v,
            Values::Shared(_) => unreachable!("made owned above"),
        }
    }
    pub fn is_shared(&self) -> bool {
        matches!(self, Values::Shared(_))
    }
}

impl Default for Values {
    fn default() -> Self {
        Values::Owned(Vec::new())
    }
}

impl Deref for Values {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        match self {
            Values::Owned(v) => v,
            Values::Shared(s) => s.values(),
        }
    }
}

impl From<Vec<f32>> for Values {
    fn from(v: Vec<f32>) -> Self {
        Values::Owned(v)
    }
}

impl FromIterator<f32> for Values {
    fn from_iter<I: IntoIterator<Item = f32>>(iter: I) -> Self {
        Values::Owned(iter.into_iter().collect())
    }
}

impl PartialEq<Vec<f32>> for Values {
    fn eq(&self, other: &Vec<f32>) -> bool {
        **self == other[..]
    }
}

impl PartialEq for Values {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for Values {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.is_shared() { "shared" } else { "owned" };
        write!(f, "Values({} {kind} values)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Borrowed(Vec<f32>);
    impl SharedValues for Borrowed {
        fn values(&self) -> &[f32] {
            &self.0
        }
    }

    #[test]
    fn shared_values_read_in_place_and_copy_only_to_change() {
        let owner = Arc::new(Borrowed(vec![1.0, 2.0, 3.0]));
        let mut v = Values::Shared(owner.clone());
        assert_eq!(v.as_ptr(), owner.0.as_ptr(), "no copy to read");
        assert_eq!(&v[..], &[1.0, 2.0, 3.0]);
        v.make_mut()[0] = 9.0;
        assert!(!v.is_shared());
        assert_eq!(&v[..], &[9.0, 2.0, 3.0]);
        assert_eq!(owner.0, vec![1.0, 2.0, 3.0], "the owner's values are untouched");
    }
}
