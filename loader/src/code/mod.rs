//! Loading artifacts: header checks, ELF parsing, relocation, executable memory, the code registry.
