//! Small macros for shapes the crate repeats: `debug_fields!` (the `Debug`
//! of a type that must not show all it holds) and `setters!` (a builder's
//! one-value setters).

/// Implements `Debug` for a struct that holds something it must not show (a
/// secret, a callback, a file handle, a buffer): it shows the fields named,
/// in order, and ends with `..` for the rest.
///
/// `debug_fields!(Type<T> { field, other, shown = |this| expr })` shows
/// `field` and `other` as they are, and `shown` as `expr` of `this: &Self`
/// (a count, a flag that a callback is set).
macro_rules! debug_fields {
    ($ty:ident $(<$($generic:ident),*>)? { $($field:ident $(= |$this:ident| $shown:expr)?),* $(,)? }) => {
        impl $(<$($generic),*>)? ::std::fmt::Debug for $ty $(<$($generic),*>)? {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &$crate::macros::debug_fields!(@show self, $field $(, |$this| $shown)?)))*
                    .finish_non_exhaustive()
            }
        }
    };
    (@show $me:expr, $field:ident) => {
        $me.$field
    };
    (@show $me:expr, $field:ident, |$this:ident| $shown:expr) => {
        (|$this: &Self| $shown)($me)
    };
}

pub(crate) use debug_fields;

/// A builder's setters that each set one field from one argument and
/// return the builder, inside its `impl` block:
///
/// ```text
/// impl Builder {
///     setters! {
///         /// The page size (at least 1).
///         page_size(n: usize) => page_size = n.max(1);
///         /// Serve gzip files with their tail cut off.
///         truncate_gzip(on: bool) => faults.truncate_gzip = on;
///     }
/// }
/// ```
///
/// makes `pub fn page_size(mut self, n: usize) -> Self`, which sets
/// `self.page_size = n.max(1)` and returns `self`. A setter that does more
/// (checks, several fields) is written out.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $arg_ty:ty) => $field:ident $(.$sub:ident)* = $value:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $arg: $arg_ty) -> Self {
                self.$field $(.$sub)* = $value;
                self
            }
        )*
    };
}

pub(crate) use setters;
