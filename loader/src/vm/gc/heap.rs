//! The GC heap of one store: where its structs and arrays live.
//!
//! Allocation is segregated by size class. Objects up to 4 KiB come from
//! chunks of [`CHUNK_SIZE`] bytes, aligned to their size, each holding
//! slots of one class; a free slot is on its class's intrusive free list
//! (the link in its count word, [`FREE_SLOT`] as its kind). An object past
//! the largest class (4 KiB) gets a chunk of its own, of its own size.
//! Every chunk starts with a [`ChunkHeader`] naming its heap, so an
//! object's heap is found by masking its address: any code of the store's
//! thread that drops a count (a table, a root, a freed object's field) can
//! free a GC object without a way to the store. Counts given up elsewhere
//! (an exception's) go through the heap's [`HeapRef`] queue instead.
//! Freeing a slot is O(1) and never moves an object, which compiled code
//! and the activations table hold as native pointers (SPEC 3.14). Chunks
//! of small objects stay with the heap until it is dropped; a large
//! object's chunk goes back when it is freed.
//!
//! The heap's state sits in a `RefCell` borrowed only by the heap's own
//! code, on the store's thread, which never runs host code while it holds
//! the borrow: counts of host blocks (and of another heap's objects) found
//! while freeing are dropped after the borrow ends.
#![allow(unsafe_code)]

use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use kiln_format::gc;

use super::layout::GcLayout;
use super::object::{self, count, is_block, set_header};
use super::released::HeapRef;
use super::stats::GcHeapStats;
use super::{cycles, free};

/// Size and alignment of a chunk.
pub(crate) const CHUNK_SIZE: usize = 64 << 10;
/// Bytes at the start of every chunk before its first object: the
/// [`ChunkHeader`], padded so objects stay 16-byte aligned.
const CHUNK_HEADER: usize = 64;
/// The kind bits of a free slot: no live block has them.
const FREE_SLOT: u32 = gc::KIND_MASK;

/// Slot sizes of the small classes: every multiple of 16 up to 128, then
/// four classes per power of two, so a slot wastes at most a fifth.
const CLASS_SIZES: [u32; 28] = [
    16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024, 1280, 1536, 1792,
    2048, 2560, 3072, 3584, 4096,
];

/// The class of an object of `size` bytes, if it is small.
#[inline]
fn class_of(size: u32) -> Option<usize> {
    // The classes up to 128 bytes are every multiple of 16: no search on
    // the path of nearly every allocation and free.
    if size <= 128 {
        return Some((size as usize).div_ceil(16).max(1) - 1);
    }
    let class = CLASS_SIZES.partition_point(|&c| c < size);
    (class < CLASS_SIZES.len()).then_some(class)
}

/// The bytes a large object's own chunk takes.
fn large_chunk_bytes(size: u32) -> usize {
    CHUNK_HEADER + size as usize
}

/// What every chunk starts with.
#[repr(C)]
struct ChunkHeader {
    heap: *const GcHeap,
    /// Slot size of a small chunk; 0 for a large object's own chunk.
    slot_size: u32,
    /// Bytes of a large object's chunk (its allocation's size).
    large_bytes: usize,
}

const _: () = assert!(size_of::<ChunkHeader>() <= CHUNK_HEADER);

/// The chunk an object lies in.
#[inline]
fn chunk_of(object: *mut u8) -> *mut ChunkHeader {
    (object as usize & !(CHUNK_SIZE - 1)) as *mut ChunkHeader
}

/// The heap of a GC object.
///
/// # Safety
/// `object` must be a live GC object (kind struct or array).
#[inline]
pub(crate) unsafe fn heap_of<'a>(object: *mut u8) -> &'a GcHeap {
    // SAFETY: every GC object lies in a chunk of its heap, whose header
    // points at the heap, which outlives its chunks.
    unsafe { &*(*chunk_of(object)).heap }
}

/// Whether `word` is a GC object of another heap than `heap`, or a host
/// block: a count the heap's own walks must leave to [`object::decrement`].
///
/// # Safety
/// `word` must be a live counted block.
#[inline]
pub(super) unsafe fn is_foreign(heap: &GcHeap, word: usize) -> bool {
    let block = word as *mut u8;
    // SAFETY: per the contract.
    unsafe { object::kind(block) == gc::KIND_HOST || !std::ptr::eq(heap_of(block), heap) }
}

/// Buffers a GC object whose count fell to a non-zero value as a
/// candidate root of a garbage cycle.
///
/// # Safety
/// `object` must be a live GC object, and this the thread that runs its
/// store (the heap's state is not thread-safe).
#[inline]
pub(crate) unsafe fn possible_root(object: *mut u8) {
    // SAFETY: per the contract.
    let heap = unsafe { heap_of(object) };
    if heap.dying.get() {
        return;
    }
    // The heap's own walks buffer through their borrow; this is a count
    // dropped from outside (a table, a root, compiled code), when nothing
    // else borrows the state.
    if let Ok(mut state) = heap.state.try_borrow_mut() {
        // SAFETY: a live object of this heap.
        unsafe { cycles::buffer(&mut state, object) };
    }
}

/// Frees a GC object whose count is zero, and whatever only it held.
///
/// # Safety
/// `object` must be a GC object whose count is zero and that nothing
/// reaches, and this the thread that runs its store.
#[inline]
pub(crate) unsafe fn release_object(object: *mut u8) {
    // SAFETY: per the contract.
    let heap = unsafe { heap_of(object) };
    if heap.dying.get() {
        // The heap is being torn down and frees every object itself.
        return;
    }
    // SAFETY: forwarded.
    unsafe { free::release(heap, object) };
}

/// The heap's bookkeeping.
pub(crate) struct HeapState {
    /// Head of each class's free list (0 when empty).
    free_lists: [usize; CLASS_SIZES.len()],
    /// Base of every chunk, small or large, to check words from the host.
    chunks: HashSet<usize>,
    /// Bytes of all chunks.
    reserved: usize,
    pub(super) live_objects: usize,
    pub(super) live_bytes: usize,
    pub(super) objects_freed: u64,
    pub(super) collections: u64,
    pub(super) cycles_collected: u64,
    /// The cycle collector's candidate roots, each with `FLAG_BUFFERED`.
    pub(super) candidates: Vec<usize>,
    /// Candidates past which the collector runs at the next safe point.
    pub(super) candidate_threshold: usize,
    /// The freeing work list, kept for its allocation.
    pub(super) work: Vec<usize>,
    /// Layout of every type the heap has objects of, by engine type id.
    /// Indexed by the id: engine ids are dense, and this lookup is on the
    /// path of every allocation and every object freed.
    layouts: Vec<Option<Arc<GcLayout>>>,
}

impl HeapState {
    /// The layout of an object's type. Not tied to the state's borrow, so
    /// that the walks of freeing and of the collector can update the state
    /// while they follow an object's fields without cloning its `Arc` (an
    /// atomic increment and decrement per object visited): a registered
    /// layout is never replaced, and lives as long as the heap.
    ///
    /// # Safety
    /// `object` must be a live GC object of this heap, and the reference
    /// must not outlive the heap.
    #[inline]
    pub(super) unsafe fn layout_of<'a>(&self, object: *mut u8) -> &'a GcLayout {
        // SAFETY: per the contract.
        let id = unsafe { object::type_id(object) };
        // Allocation registered the layout of every object's type.
        let layout: &GcLayout =
            self.layouts[id as usize].as_deref().expect("the layout of an allocated object's type is registered");
        // SAFETY: the `Arc`'s allocation stays until the heap is dropped
        // (`insert_layout` never replaces one), whatever the vector does.
        unsafe { &*(layout as *const GcLayout) }
    }

    /// Gives an object's memory back; its counts are the caller's concern.
    ///
    /// # Safety
    /// `object` must be a GC object of this heap that nothing reaches.
    #[inline]
    pub(super) unsafe fn free_memory(&mut self, object: *mut u8) {
        let chunk = chunk_of(object);
        // SAFETY: the object lies in one of this heap's chunks.
        let (slot_size, large_bytes) = unsafe { ((*chunk).slot_size, (*chunk).large_bytes) };
        self.live_objects -= 1;
        self.objects_freed += 1;
        if slot_size == 0 {
            self.live_bytes -= large_bytes - CHUNK_HEADER;
            self.reserved -= large_bytes;
            self.chunks.remove(&(chunk as usize));
            // SAFETY: `allocate_large` made this chunk with this layout.
            unsafe { std::alloc::dealloc(chunk.cast(), large_layout(large_bytes)) };
            return;
        }
        self.live_bytes -= slot_size as usize;
        let class = class_of(slot_size).expect("a small chunk's slot size is a class size");
        // SAFETY: the slot is the object's; nothing reaches it any more.
        unsafe { self.push_free(class, object) };
    }

    /// Takes the first slot of a class's free list, zeroed.
    ///
    /// # Safety
    /// The class's free list must not be empty.
    #[inline]
    unsafe fn pop_slot(&mut self, class: usize) -> *mut u8 {
        let slot = self.free_lists[class] as *mut u8;
        // SAFETY: the head of a free list is a free slot of this heap, its
        // link in its count word.
        unsafe {
            self.free_lists[class] = slot.cast::<usize>().read();
            std::ptr::write_bytes(slot, 0, CLASS_SIZES[class] as usize);
        }
        self.live_bytes += CLASS_SIZES[class] as usize;
        slot
    }

    /// Sets up a fresh object: one count (the caller's), its header and
    /// type id, and the live count.
    ///
    /// # Safety
    /// `object` must be a zeroed object of this heap of the layout's size.
    #[inline]
    unsafe fn initialise(&mut self, object: *mut u8, layout: &GcLayout) {
        self.live_objects += 1;
        // SAFETY: per the contract, at least the header's size.
        unsafe {
            count(object).store(1, Ordering::Relaxed);
            set_header(object, layout.initial_header());
            object.add(gc::TYPE_ID as usize).cast::<u32>().write(layout.type_id);
        }
    }

    /// Puts a slot on its class's free list.
    ///
    /// # Safety
    /// `slot` must be an unreachable slot of a chunk of class `class`.
    #[inline]
    unsafe fn push_free(&mut self, class: usize, slot: *mut u8) {
        // SAFETY: the slot is at least 16 bytes; its count word holds the link.
        unsafe {
            slot.cast::<usize>().write(self.free_lists[class]);
            set_header(slot, FREE_SLOT);
        }
        self.free_lists[class] = slot as usize;
    }
}

fn large_layout(bytes: usize) -> Layout {
    Layout::from_size_align(bytes, CHUNK_SIZE).expect("sizes below u32::MAX plus a header are valid")
}

/// The GC heap of one store (see the module docs). The store owns it,
/// boxed (its chunks point at it), and only the store's thread uses it;
/// what other threads may reach is its [`HeapRef`] alone.
pub(crate) struct GcHeap {
    pub(super) state: RefCell<HeapState>,
    /// Set while the heap is torn down: a count dropped then (by a host
    /// destructor the teardown runs) frees nothing, the teardown does.
    dying: Cell<bool>,
    /// The queue of counts released away from the store's thread.
    released: HeapRef,
}

impl GcHeap {
    /// An empty heap; it reserves nothing until its first allocation.
    pub(crate) fn new() -> Box<GcHeap> {
        Box::new(GcHeap {
            state: RefCell::new(HeapState {
                free_lists: [0; CLASS_SIZES.len()],
                chunks: HashSet::new(),
                reserved: 0,
                live_objects: 0,
                live_bytes: 0,
                objects_freed: 0,
                collections: 0,
                cycles_collected: 0,
                candidates: Vec::new(),
                candidate_threshold: MIN_CANDIDATE_THRESHOLD,
                work: Vec::new(),
                layouts: Vec::new(),
            }),
            dying: Cell::new(false),
            released: HeapRef::new(),
        })
    }

    /// The heap's queue of counts released elsewhere, which an exception
    /// holding objects of the heap keeps.
    pub(crate) fn released(&self) -> &HeapRef {
        &self.released
    }
}

/// The fewest candidates that start a collection at a safe point.
const MIN_CANDIDATE_THRESHOLD: usize = 4096;

impl GcHeap {
    /// The cached layout of engine type `type_id`, if any object of it was
    /// allocated or it was registered.
    pub(crate) fn layout(&self, type_id: u32) -> Option<Arc<GcLayout>> {
        self.state.borrow().layouts.get(type_id as usize).cloned().flatten()
    }

    /// The cached layout of engine type `type_id`, not tied to a borrow of
    /// the heap's state (see [`HeapState::layout_of`]).
    ///
    /// # Safety
    /// The reference must not outlive the heap.
    #[inline]
    pub(crate) unsafe fn layout_unbound<'a>(&self, type_id: u32) -> Option<&'a GcLayout> {
        let state = self.state.borrow();
        let layout: &GcLayout = state.layouts.get(type_id as usize)?.as_deref()?;
        // SAFETY: a registered layout is never replaced and lives as long
        // as the heap, whatever the vector does.
        Some(unsafe { &*(layout as *const GcLayout) })
    }

    /// Caches the layout of a type.
    pub(crate) fn register_layout(&self, layout: Arc<GcLayout>) {
        Self::insert_layout(&mut self.state.borrow_mut(), layout);
    }

    /// Caches a layout unless its type has one: a registered layout is
    /// never replaced, as [`HeapState::layout_of`] relies on.
    fn insert_layout(state: &mut HeapState, layout: Arc<GcLayout>) {
        let at = layout.type_id as usize;
        if state.layouts.len() <= at {
            state.layouts.resize(at + 1, None);
        }
        state.layouts[at].get_or_insert(layout);
    }

    /// Bytes of all chunks the heap holds.
    pub(crate) fn reserved_bytes(&self) -> usize {
        self.state.borrow().reserved
    }

    /// The bytes by which the heap must grow to allocate an object of
    /// `size` bytes (a multiple of 16); 0 when a free slot is ready.
    pub(crate) fn growth_needed(&self, size: u32) -> usize {
        match class_of(size) {
            Some(class) if self.state.borrow().free_lists[class] != 0 => 0,
            Some(_) => CHUNK_SIZE,
            None => large_chunk_bytes(size),
        }
    }

    /// Allocates a zeroed object of `size` bytes (a multiple of 16, at
    /// least 16) of type `layout`, with one count (the caller's) and its
    /// header set; an array's length is the caller's to write. Grows the
    /// heap if it must: the caller has asked the store's limiter about
    /// [`GcHeap::growth_needed`]. `None` if the system has no memory left.
    pub(crate) fn allocate(&self, size: u32, layout: &GcLayout) -> Option<*mut u8> {
        debug_assert!(size >= gc::HEADER_SIZE && size.is_multiple_of(16));
        let mut state = self.state.borrow_mut();
        if state.layouts.get(layout.type_id as usize).is_none_or(Option::is_none) {
            // Layouts come from `StoreOpaque::gc_layout`, which registers
            // them; a layout made elsewhere is registered here.
            Self::insert_layout(&mut state, Arc::new(layout.clone()));
        }
        let object = match class_of(size) {
            Some(class) => {
                if state.free_lists[class] == 0 {
                    self.add_chunk(&mut state, class)?;
                }
                // SAFETY: the list has a slot.
                unsafe { state.pop_slot(class) }
            }
            None => {
                let bytes = large_chunk_bytes(size);
                // SAFETY: the layout has a non-zero size.
                let chunk = unsafe { std::alloc::alloc_zeroed(large_layout(bytes)) };
                if chunk.is_null() {
                    return None;
                }
                // SAFETY: a fresh chunk, at least the header's size.
                unsafe {
                    chunk.cast::<ChunkHeader>().write(ChunkHeader { heap: self, slot_size: 0, large_bytes: bytes })
                };
                state.chunks.insert(chunk as usize);
                state.reserved += bytes;
                state.live_bytes += size as usize;
                // SAFETY: the object follows the header inside the chunk.
                unsafe { chunk.add(CHUNK_HEADER) }
            }
        };
        // SAFETY: a zeroed object of the layout's size.
        unsafe { state.initialise(object, layout) };
        Some(object)
    }

    /// The allocation fast path of the builtins: a zeroed small object of
    /// `size` bytes of type `layout` (registered), set up as
    /// [`GcHeap::allocate`] sets it up, if a free slot is ready and the
    /// candidate buffer is below its threshold; `None` sends the caller to
    /// [`StoreOpaque::gc_allocate`](crate::vm::store::StoreOpaque), which
    /// collects, asks the limiter and grows. Never collects.
    #[inline]
    pub(crate) fn allocate_ready(&self, size: u32, layout: &GcLayout) -> Option<*mut u8> {
        let mut state = self.state.borrow_mut();
        let class = class_of(size)?;
        if state.free_lists[class] == 0 || state.candidates.len() >= state.candidate_threshold {
            return None;
        }
        if state.layouts.get(layout.type_id as usize).is_none_or(Option::is_none) {
            return None;
        }
        // SAFETY: the list has a slot, which is then a zeroed object of
        // the class's size, at least the layout's.
        unsafe {
            let object = state.pop_slot(class);
            state.initialise(object, layout);
            Some(object)
        }
    }

    /// Adds a chunk of slots of class `class` to its free list.
    fn add_chunk(&self, state: &mut HeapState, class: usize) -> Option<()> {
        let layout = Layout::from_size_align(CHUNK_SIZE, CHUNK_SIZE).expect("a valid layout");
        // SAFETY: the layout has a non-zero size.
        let chunk = unsafe { std::alloc::alloc_zeroed(layout) };
        if chunk.is_null() {
            return None;
        }
        let slot_size = CLASS_SIZES[class];
        // SAFETY: a fresh chunk, at least the header's size.
        unsafe { chunk.cast::<ChunkHeader>().write(ChunkHeader { heap: self, slot_size, large_bytes: 0 }) };
        let slots = (CHUNK_SIZE - CHUNK_HEADER) / slot_size as usize;
        // Pushed from the last, so allocation goes up through the chunk.
        for i in (0..slots).rev() {
            // SAFETY: slot `i` lies inside the chunk, after its header.
            unsafe { state.push_free(class, chunk.add(CHUNK_HEADER + i * slot_size as usize)) };
        }
        state.chunks.insert(chunk as usize);
        state.reserved += CHUNK_SIZE;
        Some(())
    }

    /// Whether `word` is a live object of this heap: the check before the
    /// runtime treats a word from the host as an object.
    pub(crate) fn contains(&self, word: usize) -> bool {
        if !is_block(word) || !word.is_multiple_of(16) {
            return false;
        }
        let chunk = chunk_of(word as *mut u8);
        let state = self.state.borrow();
        if !state.chunks.contains(&(chunk as usize)) {
            return false;
        }
        let offset = word - chunk as usize;
        // SAFETY: the chunk is one of this heap's, so its header is readable.
        let slot_size = unsafe { (*chunk).slot_size } as usize;
        let at_slot = match slot_size {
            0 => offset == CHUNK_HEADER,
            size => {
                offset >= CHUNK_HEADER && (offset - CHUNK_HEADER).is_multiple_of(size) && offset + size <= CHUNK_SIZE
            }
        };
        // SAFETY: a slot of one of this heap's chunks.
        at_slot && unsafe { object::kind(word as *mut u8) } != FREE_SLOT
    }

    /// The heap's numbers.
    pub(crate) fn stats(&self) -> GcHeapStats {
        let state = self.state.borrow();
        GcHeapStats {
            live_objects: state.live_objects,
            live_bytes: state.live_bytes,
            reserved_bytes: state.reserved,
            collections: state.collections,
            cycles_collected: state.cycles_collected,
            objects_freed: state.objects_freed,
            candidates: state.candidates.len(),
        }
    }

    /// Whether the candidate buffer passed its threshold.
    pub(crate) fn wants_collection(&self) -> bool {
        let state = self.state.borrow();
        state.candidates.len() >= state.candidate_threshold
    }

    /// Sets the next collection's threshold from what the last one visited,
    /// so that collecting costs a bounded amount per buffered candidate.
    pub(super) fn adapt_threshold(state: &mut HeapState, visited: usize) {
        state.candidate_threshold = MIN_CANDIDATE_THRESHOLD.max(visited);
    }

    /// Every live object, for the teardown.
    fn live_objects(&self) -> Vec<usize> {
        let state = self.state.borrow();
        let mut live = Vec::with_capacity(state.live_objects);
        for &chunk in &state.chunks {
            // SAFETY: each is a chunk of this heap.
            let slot_size = unsafe { (*(chunk as *const ChunkHeader)).slot_size } as usize;
            if slot_size == 0 {
                live.push(chunk + CHUNK_HEADER);
                continue;
            }
            let slots = (CHUNK_SIZE - CHUNK_HEADER) / slot_size;
            for i in 0..slots {
                let slot = chunk + CHUNK_HEADER + i * slot_size;
                // SAFETY: every slot of a small chunk has a header word.
                if unsafe { object::kind(slot as *mut u8) } != FREE_SLOT {
                    live.push(slot);
                }
            }
        }
        live
    }
}

impl Drop for GcHeap {
    /// Frees every object still allocated (garbage cycles the collector has
    /// not reached, objects whose last holders were dropped with the
    /// store, objects that exceptions outliving the store hold), after
    /// dropping the counts they held of host values.
    fn drop(&mut self) {
        // Exceptions that outlive the store find the queue closed: what
        // they held is freed here, and no store can read it any more.
        self.released.close();
        self.dying.set(true);
        let mut foreign = Vec::new();
        for object in self.live_objects() {
            let object = object as *mut u8;
            // SAFETY: a live object of this heap, whose type was registered.
            let layout = unsafe { self.state.borrow().layout_of(object) };
            // SAFETY: as above.
            unsafe {
                object::for_each_counted_field(object, layout, |field| {
                    let word = field.read();
                    if is_block(word) && is_foreign(self, word) {
                        foreign.push(word);
                    }
                })
            };
        }
        // A host destructor that drops a count of this heap's objects finds
        // it dying and leaves them to the loop below.
        let _ = free::release_foreign(foreign);
        let state = self.state.get_mut();
        let small = Layout::from_size_align(CHUNK_SIZE, CHUNK_SIZE).expect("a valid layout");
        for &chunk in &state.chunks {
            // SAFETY: each is a chunk of this heap, allocated with its layout.
            unsafe {
                let header = &*(chunk as *const ChunkHeader);
                let layout = if header.slot_size == 0 { large_layout(header.large_bytes) } else { small };
                std::alloc::dealloc(chunk as *mut u8, layout);
            }
        }
        state.chunks.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_cover_small_objects() {
        assert_eq!(class_of(16), Some(0));
        assert_eq!(class_of(128), Some(7));
        assert_eq!(CLASS_SIZES[class_of(144).unwrap()], 160);
        assert_eq!(CLASS_SIZES[class_of(4096).unwrap()], 4096);
        assert_eq!(class_of(4096 + 16), None, "larger objects get a chunk of their own");
        assert!(CLASS_SIZES.windows(2).all(|w| w[0] < w[1] && w[1] % 16 == 0));
        assert!(CLASS_SIZES.windows(2).all(|w| w[1] - w[0] <= w[0] / 4 || w[0] <= 128));
    }
}
