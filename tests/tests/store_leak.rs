//! A store per request, 100,000 times in one process: every store's
//! destructor runs, and resident memory and mapped address space stay flat.
//! Alone in its test binary, so that no other test's memory moves the
//! figures it reads from /proc/self.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use kiln_loader::wasi::{self, MemoryOutputPipe, WasiCtx};
use kiln_loader::{Caller, Engine, Extern, InstancePre, Linker, Module, Store};

/// Compiles a `.wat` file of tests/wat with the compiler behind `kilnc`
/// and loads the object as `kiln` does.
fn module(engine: &Engine, name: &str) -> Module {
    let path = common::tests_path(&format!("wat/{name}.wat"));
    let source = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let object = kiln_compiler::compile(&source, &Default::default()).expect("compiles");
    kiln_tests::module_from_bytes(engine, &object).expect("loads")
}

/// Counts the drops of every value made with it.
#[derive(Clone, Default)]
struct DropCounter(Arc<AtomicUsize>);

struct Counted(Arc<AtomicUsize>);

impl DropCounter {
    fn token(&self) -> Counted {
        Counted(self.0.clone())
    }

    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// One request's state: the WASI program's context, what the host function
/// saw, and a witness of the store's destruction.
struct Request {
    wasi: WasiCtx,
    sums: Vec<i32>,
    _dropped: Counted,
}

/// Reads `ptr..ptr + len` of the caller's memory and sums the bytes.
fn sum_bytes(mut caller: Caller<'_, Request>, ptr: i32, len: i32) -> anyhow::Result<i32> {
    let memory =
        caller.get_export("memory").and_then(Extern::into_memory).ok_or_else(|| anyhow::anyhow!("no memory"))?;
    let bytes = memory
        .data(&caller)
        .get(ptr as usize..(ptr as usize).saturating_add(len as usize))
        .ok_or_else(|| anyhow::anyhow!("out of bounds"))?;
    let sum = bytes.iter().map(|&b| i32::from(b)).sum();
    caller.data_mut().sums.push(sum);
    Ok(sum)
}

fn command_pre(engine: &Engine) -> InstancePre<Request> {
    let mut linker = Linker::<Request>::new(engine);
    wasi::add_to_linker(&mut linker, |request| &mut request.wasi).expect("wasi");
    linker.func_wrap("env", "sum_bytes", sum_bytes).expect("sum_bytes");
    linker.instantiate_pre(&module(engine, "embedding_command")).expect("imports resolve")
}

/// `(resident, mapped)` bytes of this process, from /proc/self/status.
fn memory_use() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .unwrap_or_else(|| panic!("{name} missing from /proc/self/status"))
    };
    (field("VmRSS:"), field("VmSize:"))
}

#[test]
fn a_store_per_request_leaks_nothing_over_100000_requests() {
    const REQUESTS: usize = 100_000;
    const WARM_UP: usize = 2_000;
    let engine = Engine::default();
    let pre = command_pre(&engine);
    let dropped = DropCounter::default();
    let expected_sum: i32 = b"hello, store\n".iter().map(|&b| i32::from(b)).sum();
    let mut before = (0, 0);
    for request in 0..REQUESTS {
        if request == WARM_UP {
            before = memory_use();
        }
        let stdout = MemoryOutputPipe::new().expect("pipe");
        let wasi = WasiCtx::builder().args(["command"]).stdout(stdout.clone()).build().expect("wasi context");
        let mut store = Store::new(&engine, Request { wasi, sums: Vec::new(), _dropped: dropped.token() });
        let instance = pre.instantiate(&mut store).expect("instantiates");
        let start = instance.get_typed_func::<(), ()>(&store, "_start").expect("_start");
        start.call(&mut store, ()).expect("runs");
        assert_eq!(store.data().sums, [expected_sum]);
        if request % 10_000 == 0 {
            assert_eq!(stdout.contents().expect("stdout"), b"hello, store\n");
            let last = instance.get_global(&store, "last").expect("last").get(&store);
            assert_eq!(last.i32(), Some(expected_sum));
        }
        drop(store);
        assert_eq!(dropped.count(), request + 1, "the store of request {request} was not dropped");
    }
    let after = memory_use();
    println!(
        "after {WARM_UP} requests: rss {} KiB, mapped {} KiB; after {REQUESTS}: rss {} KiB, mapped {} KiB",
        before.0 >> 10,
        before.1 >> 10,
        after.0 >> 10,
        after.1 >> 10
    );
    let grew = |a: u64, b: u64| b.saturating_sub(a);
    // One leaked instance would keep an 8 GiB reservation mapped; a leaked
    // store or context per request, kilobytes of resident memory each.
    assert!(grew(before.1, after.1) < 64 << 20, "mapped address space grew from {} to {} bytes", before.1, after.1);
    assert!(grew(before.0, after.0) < 16 << 20, "resident memory grew from {} to {} bytes", before.0, after.0);
    assert_eq!(dropped.count(), REQUESTS);
}
