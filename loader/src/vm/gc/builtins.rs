//! The GC builtins (21-31) that compiled code calls.
