//! The host side of the externref tests: tracked host values whose drops
//! are counted, and the `host` imports of `tests/wat/externref_*.wat`.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use kiln_compiler::{compile_file, CompileOptions};
use kiln_loader::{Error, ExternRef, FuncType, Instance, Linker, Module, Store, Val, ValType};

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

/// A host value that counts its drops.
pub struct Tracked {
    /// Its id, as `host.id` reports it to Wasm.
    pub id: u32,
    drops: Arc<AtomicUsize>,
    reenter: bool,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if self.reenter {
            let hook = HOOK.with(|h| h.borrow().clone());
            if let Some(hook) = hook {
                hook();
            }
        }
    }
}

thread_local! {
    static HOOK: RefCell<Option<Rc<dyn Fn()>>> = const { RefCell::new(None) };
}

/// A tracked reference.
pub fn tracked(id: u32, drops: &Arc<AtomicUsize>) -> ExternRef {
    ExternRef::new(Tracked { id, drops: drops.clone(), reenter: false })
}

/// A tracked reference whose destructor runs the hook of [`on_reentrant_drop`].
pub fn reentrant(id: u32, drops: &Arc<AtomicUsize>) -> ExternRef {
    ExternRef::new(Tracked { id, drops: drops.clone(), reenter: true })
}

/// Makes destructors of [`reentrant`] values run `f` (which may call Wasm);
/// returns how many times it ran.
pub fn on_reentrant_drop(f: impl Fn() + 'static) -> Arc<AtomicUsize> {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    HOOK.with(|h| {
        *h.borrow_mut() = Some(Rc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            f();
        }))
    });
    runs
}

/// Forgets the hook (and the store handles it holds).
pub fn clear_reentrant_hook() {
    let hook = HOOK.with(|h| h.borrow_mut().take());
    drop(hook);
}

/// The id of a tracked reference, -1 for null.
pub fn id_val(v: &Val) -> i32 {
    v.externref().and_then(|r| r.downcast_ref::<Tracked>()).map_or(-1, |t| t.id as i32)
}

/// A store with one instance of a module importing the `host` functions.
pub struct Host {
    pub store: Store,
    pub instance: Instance,
    pub drops: Arc<AtomicUsize>,
    made: Arc<AtomicUsize>,
    gcs: Rc<Cell<usize>>,
    drops_at_gcs: Rc<RefCell<Vec<usize>>>,
}

impl Host {
    pub fn new(module: &Module) -> Host {
        let store = Store::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let made = Arc::new(AtomicUsize::new(0));
        let gcs = Rc::new(Cell::new(0));
        let drops_at_gcs = Rc::new(RefCell::new(Vec::new()));
        let mut linker = Linker::new();
        let ty =
            |params: &[ValType], results: &[ValType]| FuncType { params: params.to_vec(), results: results.to_vec() };
        let ext = ValType::ExternRef;
        {
            let (weak, gcs, drops, log) = (store.weak(), gcs.clone(), drops.clone(), drops_at_gcs.clone());
            linker
                .func_new(&store, "host", "gc", ty(&[], &[]), move |_, _| {
                    let store = weak.upgrade().ok_or_else(|| Error::Host("store gone".into()))?;
                    store.gc();
                    gcs.set(gcs.get() + 1);
                    log.borrow_mut().push(drops.load(Ordering::SeqCst));
                    Ok(())
                })
                .unwrap();
        }
        {
            let (drops, made) = (drops.clone(), made.clone());
            linker
                .func_new(&store, "host", "make", ty(&[ValType::I32], &[ext]), move |args, results| {
                    made.fetch_add(1, Ordering::SeqCst);
                    results[0] = Val::ExternRef(Some(tracked(args[0].i32().unwrap_or(0) as u32, &drops)));
                    Ok(())
                })
                .unwrap();
        }
        {
            let (drops, made) = (drops.clone(), made.clone());
            linker
                .func_new(&store, "host", "make3", ty(&[ValType::I32], &[ext, ext, ext]), move |args, results| {
                    let first = args[0].i32().unwrap_or(0) as u32;
                    for (i, result) in results.iter_mut().enumerate() {
                        made.fetch_add(1, Ordering::SeqCst);
                        *result = Val::ExternRef(Some(tracked(first + i as u32, &drops)));
                    }
                    Ok(())
                })
                .unwrap();
        }
        linker
            .func_new(&store, "host", "id", ty(&[ext], &[ValType::I32]), |args, results| {
                results[0] = Val::I32(id_val(&args[0]));
                Ok(())
            })
            .unwrap();
        linker
            .func_new(&store, "host", "identity", ty(&[ext], &[ext]), |args, results| {
                results[0] = args[0].clone();
                Ok(())
            })
            .unwrap();
        let instance = linker.instantiate(&store, module).expect("instantiates");
        Host { store, instance, drops, made, gcs, drops_at_gcs }
    }

    /// Host values dropped so far.
    pub fn dropped(&self) -> usize {
        self.drops.load(Ordering::SeqCst)
    }

    /// References made by `host.make` / `host.make3`.
    pub fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }

    /// Calls of `host.gc`.
    pub fn gcs(&self) -> usize {
        self.gcs.get()
    }

    /// The drop count right after each `host.gc`.
    pub fn drops_at_gcs(&self) -> Vec<usize> {
        self.drops_at_gcs.borrow().clone()
    }
}
