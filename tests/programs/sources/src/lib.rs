//! Empty: this package exists only to bring its dependencies' C sources.
