//! Linear memory: the page size, the page limits and the address-space
//! reservation that lets compiled code skip bounds checks (32-bit memories)
//! or make them cheap (64-bit memories).

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

/// Bytes of address space the runtime reserves for every memory, 32-bit or
/// 64-bit, starting at its `base`. For a 32-bit memory that is 4 GiB
/// addressable plus a [`MEMORY_GUARD_SIZE`] guard; for a 64-bit memory,
/// [`MAX_MEMORY64_PAGES`] addressable plus a [`MEMORY64_GUARD_SIZE`] guard.
/// Only the memory's current length is accessible, and `memory.grow` only
/// changes protections, so `base` never moves.
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

/// Inaccessible bytes at the end of a 64-bit memory's reservation, past
/// its largest possible size. A 64-bit address can be anything, so every
/// access to a 64-bit memory is checked; the guard makes the check of an
/// access whose static offset plus size is at most this one comparison,
/// `address > current_length` (the access then starts at most this far past
/// the memory's end, inside the reservation, and faults there). Accesses
/// with larger offsets check `address + offset + size > current_length`
/// in full.
pub const MEMORY64_GUARD_SIZE: u64 = 32 << 20;

/// Most pages a 64-bit memory can have in kiln: what its reservation holds
/// before the guard (8 GiB less 32 MiB). A larger maximum is allowed, but
/// growth past this fails as `memory.grow` may (it returns -1), and a
/// larger minimum fails instantiation. The pooling allocator's slots are
/// the same size, and its `max_memory_size` lowers this limit further.
pub const MAX_MEMORY64_PAGES: u64 = (MEMORY_RESERVATION - MEMORY64_GUARD_SIZE) / WASM_PAGE_SIZE;

/// Granule of memory images ([`crate::MemoryImage`]): the host page size,
/// so that the loader can map an image's file pages straight into a linear
/// memory. `.kiln.image` is aligned to it in the file.
pub const IMAGE_PAGE_SIZE: u64 = 4096;

const _: () = assert!(WASM_PAGE_SIZE.is_multiple_of(IMAGE_PAGE_SIZE), "images tile Wasm pages");
const _: () = assert!(MAX_WASM_PAGES * WASM_PAGE_SIZE == 1 << 32, "a 32-bit address reaches 4 GiB");
const _: () = assert!(MEMORY_GUARD_SIZE >= u32::MAX as u64, "the guard covers every 32-bit static offset");
const _: () = assert!(MEMORY64_GUARD_SIZE.is_multiple_of(WASM_PAGE_SIZE), "64-bit memories end on a page");
const _: () = assert!(MEMORY64_GUARD_SIZE <= i32::MAX as u64, "a guarded static offset folds into the access");
const _: () = assert!(MAX_MEMORY64_PAGES > MAX_WASM_PAGES, "a 64-bit memory can exceed 4 GiB");
