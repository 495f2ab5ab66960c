//! Linear memory: the page size, the page limit and the address-space
//! reservation that lets compiled code skip bounds checks.

/// `log2` of the size of a Wasm page. Compiled code lowers `memory.size` to
/// the memory's length in bytes shifted right by this, so it must match the
/// page size the runtime grows memories by.
pub const WASM_PAGE_SIZE_LOG2: u32 = 16;

/// Size in bytes of a Wasm page (64 KiB): the unit of `memory.size`,
/// `memory.grow` and the limits of a memory type.
pub const WASM_PAGE_SIZE: u64 = 1 << WASM_PAGE_SIZE_LOG2;

/// Most pages a 32-bit memory can have: 4 GiB, all that a 32-bit address
/// reaches.
pub const MAX_WASM_PAGES: u64 = 1 << 16;

/// Bytes of address space the runtime reserves for every 32-bit memory,
/// starting at its `base`: 4 GiB addressable plus a [`MEMORY_GUARD_SIZE`]
/// guard. Only the memory's current length is accessible, and `memory.grow`
/// only changes protections, so `base` never moves.
///
/// Compiled code emits no bounds check because of it. The first byte of any
/// access, `base + zext(address) + offset`, lies inside the reservation
/// (address and offset are each below 4 GiB), so an access beyond the
/// memory's length faults there and reports `memory_out_of_bounds`. An
/// access that starts at the very end of the reservation and runs past it
/// (by less than the 16 bytes of a v128) still faults, since its first bytes
/// lie in the guard and x86-64 performs no part of a faulting access.
pub const MEMORY_RESERVATION: u64 = 8 << 30;

/// Inaccessible bytes of the [`MEMORY_RESERVATION`] after the largest
/// possible memory. It must be at least the largest static offset of an
/// access (`u32::MAX` for a 32-bit memory): the compiler refuses larger
/// offsets, which could reach past the reservation.
pub const MEMORY_GUARD_SIZE: u64 = MEMORY_RESERVATION - MAX_WASM_PAGES * WASM_PAGE_SIZE;

/// Granule of memory images ([`crate::MemoryImage`]): the host page size,
/// so that the loader can map an image's file pages straight into a linear
/// memory. `.kiln.image` is aligned to it in the file.
pub const IMAGE_PAGE_SIZE: u64 = 4096;

const _: () = assert!(WASM_PAGE_SIZE.is_multiple_of(IMAGE_PAGE_SIZE), "images tile Wasm pages");
const _: () = assert!(MAX_WASM_PAGES * WASM_PAGE_SIZE == 1 << 32, "a 32-bit address reaches 4 GiB");
const _: () = assert!(MEMORY_GUARD_SIZE >= u32::MAX as u64, "the guard covers every 32-bit static offset");
