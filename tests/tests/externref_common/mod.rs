//! The host side of the externref tests: tracked host values whose drops
//! are counted, and the `host` imports of `tests/wat/externref_*.wat`.
#![allow(dead_code)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use kiln_compiler::{compile_file, CompileOptions};
use kiln_loader::{
    Caller, Engine, Error, ExternRef, FuncType, Instance, Linker, Module, Store, TypedFunc, Val, ValType, WasmParams,
    WasmResults,
};

/// Compiles `tests/wat/NAME.wat` to an object file through the same path
/// as `kilnc`, and returns the object's path. An object newer than both the
/// source and this test binary (whose compiler made it) is reused, so that
/// `make valgrind` checks the runtime, not the compiler.
pub fn compiled(name: &str) -> PathBuf {
    static DONE: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let input = super::common::tests_path(&format!("wat/{name}.wat"));
    let output = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.o"));
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if done.get_or_insert_with(HashSet::new).insert(name.to_string()) && !up_to_date(&output, &input) {
        compile_file(&input, &output, &CompileOptions::default()).unwrap_or_else(|e| panic!("kilnc {name}: {e}"));
    }
    output
}

fn up_to_date(output: &Path, input: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let Some(made) = modified(output) else {
        return false;
    };
    let exe = std::env::current_exe().ok();
    let fresh = [Some(input), exe.as_deref()].into_iter().all(|p| p.and_then(modified).is_some_and(|t| t <= made));
    fresh
}

/// Loads `tests/wat/NAME.wat`, compiled, into `engine`.
pub fn load(engine: &Engine, name: &str) -> Module {
    kiln_tests::module_from_file(engine, compiled(name)).expect("the artifact loads")
}

/// What a tracked value does when it is dropped, after counting the drop.
enum OnDrop {
    Nothing,
    /// Runs a hook (which may call Wasm in another store).
    Run(Arc<dyn Fn() + Send + Sync>),
    /// Panics, as a buggy host destructor would.
    Panic,
}

/// A host value that counts its drops.
pub struct Tracked {
    /// Its id, as `host.id` reports it to Wasm.
    pub id: u32,
    drops: Arc<AtomicUsize>,
    on_drop: OnDrop,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        match &self.on_drop {
            OnDrop::Nothing => {}
            OnDrop::Run(hook) => hook(),
            OnDrop::Panic => panic!("the destructor of host value {} panics", self.id),
        }
    }
}

/// A tracked reference.
pub fn tracked(id: u32, drops: &Arc<AtomicUsize>) -> ExternRef {
    ExternRef::new(Tracked { id, drops: drops.clone(), on_drop: OnDrop::Nothing })
}

/// A tracked reference whose destructor runs `hook`.
pub fn reentrant(id: u32, drops: &Arc<AtomicUsize>, hook: &Arc<dyn Fn() + Send + Sync>) -> ExternRef {
    ExternRef::new(Tracked { id, drops: drops.clone(), on_drop: OnDrop::Run(hook.clone()) })
}

/// A tracked reference whose destructor panics (after counting its drop).
pub fn panicking(id: u32, drops: &Arc<AtomicUsize>) -> ExternRef {
    ExternRef::new(Tracked { id, drops: drops.clone(), on_drop: OnDrop::Panic })
}

/// The id of a tracked reference, -1 for null.
pub fn id_val(v: &Val) -> i32 {
    v.externref().and_then(|r| r.downcast_ref::<Tracked>()).map_or(-1, |t| t.id as i32)
}

/// The id of a tracked reference.
pub fn id_of(r: Option<ExternRef>) -> Option<u32> {
    r.and_then(|r| r.downcast_ref::<Tracked>().map(|t| t.id))
}

/// The store's host state: what the `host` imports did.
pub struct HostState {
    /// Drops of the values `host.make`, `host.make3` and the tests made.
    pub drops: Arc<AtomicUsize>,
    made: usize,
    gcs: usize,
    drops_at_gcs: Vec<usize>,
}

/// A store with one instance of a module importing the `host` functions.
pub struct Host {
    pub store: Store<HostState>,
    pub instance: Instance,
    pub drops: Arc<AtomicUsize>,
}

impl Host {
    /// `module` instantiated in a new store of its engine.
    pub fn new(module: &Module) -> Host {
        let engine = module.engine();
        let drops = Arc::new(AtomicUsize::new(0));
        let state = HostState { drops: drops.clone(), made: 0, gcs: 0, drops_at_gcs: Vec::new() };
        let mut store = Store::new(engine, state);
        let instance = linker(engine).instantiate(&mut store, module).expect("instantiates");
        Host { store, instance, drops }
    }

    /// The exported function `name`, typed.
    pub fn typed<P: WasmParams, R: WasmResults>(&self, name: &str) -> Result<TypedFunc<P, R>, Error> {
        self.instance.get_typed_func::<P, R>(&self.store, name)
    }

    /// Host values dropped so far.
    pub fn dropped(&self) -> usize {
        self.drops.load(Ordering::SeqCst)
    }

    /// References made by `host.make` / `host.make3`.
    pub fn made(&self) -> usize {
        self.store.data().made
    }

    /// Calls of `host.gc`.
    pub fn gcs(&self) -> usize {
        self.store.data().gcs
    }

    /// The drop count right after each `host.gc`.
    pub fn drops_at_gcs(&self) -> Vec<usize> {
        self.store.data().drops_at_gcs.clone()
    }
}

/// The `host` imports: `gc` collects the calling store, `make` makes a
/// tracked reference with the given id, `make3` three at once, `id` gives
/// the id of a reference (-1 for null) and `identity` returns its argument.
fn linker(engine: &Engine) -> Linker<HostState> {
    let mut linker = Linker::new(engine);
    linker
        .func_wrap("host", "gc", |mut caller: Caller<'_, HostState>| -> Result<(), Error> {
            caller.gc()?;
            let state = caller.data_mut();
            state.gcs += 1;
            let dropped = state.drops.load(Ordering::SeqCst);
            state.drops_at_gcs.push(dropped);
            Ok(())
        })
        .unwrap();
    linker
        .func_wrap("host", "make", |mut caller: Caller<'_, HostState>, id: i32| {
            let state = caller.data_mut();
            state.made += 1;
            Some(tracked(id as u32, &state.drops))
        })
        .unwrap();
    // Untyped, to cover host functions with several externref results
    // passed as `Val`s.
    let ext = ValType::EXTERNREF;
    let ty = FuncType { params: vec![ValType::I32], results: vec![ext, ext, ext] };
    linker
        .func_new("host", "make3", ty, |mut caller, args, results| {
            let first = args[0].i32().unwrap_or(0) as u32;
            let state = caller.data_mut();
            for (i, result) in results.iter_mut().enumerate() {
                state.made += 1;
                *result = Val::ExternRef(Some(tracked(first + i as u32, &state.drops)));
            }
            Ok(())
        })
        .unwrap();
    linker.func_wrap("host", "id", |r: Option<ExternRef>| id_of(r).map_or(-1, |id| id as i32)).unwrap();
    linker.func_wrap("host", "identity", |r: Option<ExternRef>| r).unwrap();
    linker
}
