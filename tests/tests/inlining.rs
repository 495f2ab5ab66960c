//! Inlining keeps every observable behaviour (SPEC 2.2.3): a trap inside an
//! inlined callee, or below a call made from inlined code, shows the same
//! Wasm frames as without inlining; a reference that only an inlined frame
//! holds survives GCs; handlers inside inlined code, and above it, catch
//! as before; fuel counts the inlined callee, and an epoch deadline stops
//! a loop in it. Each test runs
//! `tests/wat/inlining.wat` compiled with and without inlining, and checks
//! that kilnc did inline the calls it exercises.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use kiln_compiler::{CompileOptions, Inlining};
use kiln_loader::{Caller, Engine, Error, ExternRef, Instance, Linker, Module, Store, TrapCode};

/// Function indices of `inlining.wat` (the import `gc` is 0).
const LOAD: u32 = 1;
const MIDDLE: u32 = 2;
const TRAP_IN_CALLEE: u32 = 3;
const DEEP: u32 = 4;
const INNER: u32 = 5;
const OUTER: u32 = 6;
const TRAP_BELOW: u32 = 7;
const HOLD: u32 = 8;
const HOLD_ACROSS_GC: u32 = 9;
const CATCHING: u32 = 11;
const CATCH_IN_CALLEE: u32 = 12;
const THROW: u32 = 10;
const THROWS_INLINED: u32 = 13;
const ADD3: u32 = 15;
const SUM: u32 = 16;
const SPIN_LOOP: u32 = 17;
const SPIN: u32 = 18;

const MODES: [Inlining; 2] = [Inlining::On, Inlining::Off];

/// A host value that counts its drops.
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn module(engine: &Engine, inlining: Inlining, instrumented: bool) -> Module {
    let path = common::tests_path("wat/inlining.wat");
    let source = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let options =
        CompileOptions { inlining, fuel: instrumented, epoch_interruption: instrumented, ..CompileOptions::default() };
    let object = kiln_compiler::compile(&source, &options).expect("compiles");
    kiln_tests::module_from_bytes(engine, &object).expect("loads")
}

/// `inlining.wat` as `inlining` says, with fuel metering and epoch checks
/// when `instrumented`.
fn instantiate(inlining: Inlining, instrumented: bool) -> (Module, Store<()>, Instance) {
    let engine = Engine::default();
    let module = module(&engine, inlining, instrumented);
    let mut linker = Linker::<()>::new(&engine);
    linker
        .func_wrap("host", "gc", |mut caller: Caller<'_, ()>| -> Result<(), Error> {
            caller.gc()?;
            Ok(())
        })
        .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module).expect("instantiates");
    (module, store, instance)
}

/// The functions inlined into `func_index`, one per inline site.
fn inlined_into(module: &Module, func_index: u32) -> Vec<u32> {
    let frames = module.info().inlined_frames(func_index);
    frames.map(|f| f.sites.iter().map(|s| s.callee).collect()).unwrap_or_default()
}

/// The function indices of the backtrace of the trap that calling `export`
/// with `arg` ends in, and its code.
fn trap_frames(store: &mut Store<()>, instance: Instance, export: &str, arg: i32) -> (Option<TrapCode>, Vec<u32>) {
    let func = instance.get_typed_func::<i32, i32>(&mut *store, export).unwrap();
    let error = func.call(&mut *store, arg).unwrap_err();
    let trap = error.trap().unwrap_or_else(|| panic!("{export}: not a trap: {error}"));
    (trap.code, trap.backtrace.iter().map(|f| f.func_index).collect())
}

#[test]
fn a_trap_inside_an_inlined_callee_names_the_callee_and_its_callers() {
    for mode in MODES {
        let (module, mut store, instance) = instantiate(mode, false);
        if mode == Inlining::On {
            assert_eq!(inlined_into(&module, MIDDLE), [LOAD]);
            assert_eq!(inlined_into(&module, TRAP_IN_CALLEE), [MIDDLE, LOAD], "nested inlining");
        } else {
            assert!(inlined_into(&module, TRAP_IN_CALLEE).is_empty());
        }
        let (code, frames) = trap_frames(&mut store, instance, "trap_in_callee", 70_000);
        assert_eq!(code, Some(TrapCode::MEMORY_OUT_OF_BOUNDS), "{mode:?}");
        assert_eq!(frames, [LOAD, MIDDLE, TRAP_IN_CALLEE], "{mode:?}");
        // The names come along with the frames.
        let func = instance.get_typed_func::<i32, i32>(&mut store, "trap_in_callee").unwrap();
        let error = func.call(&mut store, 70_000).unwrap_err();
        let names: Vec<Option<&str>> = error.trap().unwrap().backtrace.iter().map(|f| f.func_name.as_deref()).collect();
        assert_eq!(names, [Some("load"), Some("middle"), Some("trap_in_callee")], "{mode:?}");
        assert_eq!(func.call(&mut store, 0).unwrap(), 1, "{mode:?}");
    }
}

#[test]
fn a_trap_below_inlined_calls_shows_every_frame() {
    for mode in MODES {
        let (module, mut store, instance) = instantiate(mode, false);
        if mode == Inlining::On {
            assert_eq!(inlined_into(&module, TRAP_BELOW), [OUTER, INNER]);
            assert!(inlined_into(&module, DEEP).is_empty());
        }
        // `unreachable` in $deep, called indirectly from the inlined $inner.
        let (code, frames) = trap_frames(&mut store, instance, "trap_below", 0);
        assert_eq!(code, Some(TrapCode::UNREACHABLE), "{mode:?}");
        assert_eq!(frames, [DEEP, INNER, OUTER, TRAP_BELOW], "{mode:?}");
        let below = instance.get_typed_func::<i32, i32>(&mut store, "trap_below").unwrap();
        assert_eq!(below.call(&mut store, 5).unwrap(), 40, "{mode:?}");
    }
}

#[test]
fn a_reference_held_only_by_an_inlined_frame_survives_gcs() {
    for mode in MODES {
        let (module, mut store, instance) = instantiate(mode, false);
        if mode == Inlining::On {
            assert_eq!(inlined_into(&module, HOLD_ACROSS_GC), [HOLD]);
            // The inlined calls of $gc are safepoints with the reference live.
            let code = module.code();
            let range = module.info().functions[HOLD_ACROSS_GC as usize].code.unwrap();
            let maps = code
                .stack_map_table()
                .iter()
                .filter(|m| (range.offset..range.offset + range.len).contains(&(m.return_offset - 1)))
                .filter(|m| m.slots().next().is_some())
                .count();
            assert_eq!(maps, 2, "both calls of $gc in the inlined body have stack maps");
        }
        let hold =
            instance.get_typed_func::<Option<ExternRef>, Option<ExternRef>>(&mut store, "hold_across_gc").unwrap();
        let drops = Arc::new(AtomicUsize::new(0));
        let value = ExternRef::new(Tracked(drops.clone()));
        let back = hold.call(&mut store, Some(value)).expect("runs").expect("the reference comes back");
        assert_eq!(drops.load(Ordering::SeqCst), 0, "{mode:?}: the GCs kept the reference the inlined frame held");
        assert!(back.downcast_ref::<Tracked>().is_some(), "{mode:?}");
        drop(back);
        store.gc().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1, "{mode:?}: dropped once, when nothing holds it");
    }
}

#[test]
fn handlers_inside_and_above_inlined_code_catch() {
    for mode in MODES {
        let (module, mut store, instance) = instantiate(mode, false);
        if mode == Inlining::On {
            assert_eq!(inlined_into(&module, CATCH_IN_CALLEE), [CATCHING]);
            assert_eq!(inlined_into(&module, THROWS_INLINED), [THROW]);
        }
        let inside = instance.get_typed_func::<i32, i32>(&mut store, "catch_in_callee").unwrap();
        assert_eq!(inside.call(&mut store, 0).unwrap(), 0, "{mode:?}");
        assert_eq!(inside.call(&mut store, 7).unwrap(), 1007, "{mode:?}: caught by the inlined $catching");
        let above = instance.get_typed_func::<i32, i32>(&mut store, "catch_above").unwrap();
        assert_eq!(above.call(&mut store, 0).unwrap(), 1, "{mode:?}");
        assert_eq!(above.call(&mut store, 9).unwrap(), 2009, "{mode:?}: thrown from inlined code, caught above");
    }
}

#[test]
fn an_inlined_callee_consumes_its_fuel() {
    let mut consumed = Vec::new();
    for mode in MODES {
        let (module, mut store, instance) = instantiate(mode, true);
        if mode == Inlining::On {
            assert_eq!(inlined_into(&module, SUM), [ADD3]);
        }
        store.set_fuel(10_000).unwrap();
        let sum = instance.get_typed_func::<i32, i32>(&mut store, "sum").unwrap();
        assert_eq!(sum.call(&mut store, 100).unwrap(), 300, "{mode:?}");
        consumed.push(10_000 - store.get_fuel().unwrap());
        // Running out inside the loop traps the same way.
        store.set_fuel(50).unwrap();
        let error = sum.call(&mut store, 100).unwrap_err();
        assert_eq!(error.trap().and_then(|t| t.code), Some(TrapCode::OUT_OF_FUEL), "{mode:?}");
    }
    assert_eq!(consumed[0], consumed[1], "the same fuel with and without inlining");
}

#[test]
fn an_epoch_deadline_stops_a_loop_in_an_inlined_callee() {
    for mode in MODES {
        let (module, mut store, instance) = instantiate(mode, true);
        if mode == Inlining::On {
            assert_eq!(inlined_into(&module, SPIN), [SPIN_LOOP]);
        }
        store.set_fuel(u64::MAX).unwrap();
        store.set_epoch_deadline(1).unwrap();
        let engine = module.engine().clone();
        let ticker = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            engine.increment_epoch();
        });
        let (code, frames) = trap_frames(&mut store, instance, "spin", 0);
        ticker.join().unwrap();
        assert_eq!(code, Some(TrapCode::INTERRUPT), "{mode:?}");
        assert_eq!(frames, [SPIN_LOOP, SPIN], "{mode:?}");
    }
}

/// Function indices of `inlining_excluded.wat`.
mod excluded {
    pub const COUNT: u32 = 0;
    pub const LEAF: u32 = 1;
    pub const CALLEE_TAIL_CALLS: u32 = 3;
    pub const SMALL: u32 = 4;
    pub const TAIL_SITE: u32 = 5;
    pub const NEVER_RETURNS: u32 = 7;
    pub const WITH_HANDLER: u32 = 9;
    pub const WRAPPER: u32 = 10;
    pub const WRAPPED: u32 = 11;
}

#[test]
fn the_policy_keeps_the_calls_it_excludes() {
    let path = common::tests_path("wat/inlining_excluded.wat");
    let source = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let options = CompileOptions { inlining: Inlining::On, ..CompileOptions::default() };
    let object = kiln_compiler::compile(&source, &options).expect("compiles");
    let engine = Engine::default();
    let module = kiln_tests::module_from_bytes(&engine, &object).expect("loads");
    use excluded::*;
    // $count's one call site is in $count.
    assert!(inlined_into(&module, COUNT).is_empty(), "a function is never inlined into itself");
    for (caller, why) in [
        (CALLEE_TAIL_CALLS, "the callee tail-calls"),
        (TAIL_SITE, "the call is a tail call"),
        (NEVER_RETURNS, "the callee never returns"),
        (WITH_HANDLER, "the call has handlers"),
    ] {
        assert!(inlined_into(&module, caller).is_empty(), "{why}: {:?}", inlined_into(&module, caller));
    }
    assert_eq!(inlined_into(&module, WRAPPER), [SMALL], "a small leaf is inlined");
    assert!(inlined_into(&module, WRAPPED).is_empty(), "a small non-leaf with two sites is not");

    // And the backtraces are those of the calls.
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).expect("instantiates");
    assert_eq!(
        trap_frames(&mut store, instance, "callee_tail_calls", 0),
        (Some(TrapCode::UNREACHABLE), vec![LEAF, CALLEE_TAIL_CALLS])
    );
    assert_eq!(trap_frames(&mut store, instance, "tail_site", 0), (Some(TrapCode::UNREACHABLE), vec![SMALL]));
    let recursive = instance.get_typed_func::<i32, i32>(&mut store, "recursive").unwrap();
    assert_eq!(recursive.call(&mut store, 10).unwrap(), 10);
    let handler = instance.get_typed_func::<i32, i32>(&mut store, "with_handler").unwrap();
    assert_eq!((handler.call(&mut store, 0).unwrap(), handler.call(&mut store, 3).unwrap()), (5, 3));
    let wrapped = instance.get_typed_func::<i32, i32>(&mut store, "wrapped").unwrap();
    assert_eq!(wrapped.call(&mut store, 4).unwrap(), 5 + 2);
}
