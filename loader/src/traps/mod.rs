//! Traps: signal handlers, unwinding to the entry, backtraces.
