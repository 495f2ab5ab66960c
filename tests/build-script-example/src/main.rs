//! Finds the longest Collatz chain below a limit (the first argument,
//! 1000000 by default) with a Wasm module that `build.rs` compiled and that
//! is embedded in this executable: `include_artifact!` loads it where it
//! lies, and its code runs from the executable's own pages.
//!
//! ```text
//! $ kiln-build-example 100
//! new longest chain: 1 (0 steps)
//! ...
//! longest chain below 100: 97 (118 steps)
//! code runs in place: yes
//! ```

use anyhow::{bail, Context};
use kiln_loader::{Caller, Engine, Linker, Store};

fn main() -> anyhow::Result<()> {
    let limit = match std::env::args().nth(1) {
        Some(arg) => arg.parse::<u32>().with_context(|| format!("the limit must be a number, not {arg:?}"))?,
        None => 1_000_000,
    };
    if i32::try_from(limit).is_err() {
        bail!("the limit must be below 2^31, not {limit}");
    }

    let engine = Engine::default();
    let module = kiln_loader::include_artifact!(&engine, concat!(env!("OUT_DIR"), "/collatz.o"))?;

    // The store's data is the best chain reported so far: (start, steps).
    let mut linker = Linker::<Option<(u32, u32)>>::new(&engine);
    linker.func_wrap("host", "record", |mut caller: Caller<'_, Option<(u32, u32)>>, start: i32, steps: i32| {
        println!("new longest chain: {start} ({steps} steps)");
        *caller.data_mut() = Some((start as u32, steps as u32));
    })?;
    let mut store = Store::new(&engine, None);
    let instance = linker.instantiate(&mut store, &module)?;
    let longest_chain = instance.get_typed_func::<i32, i32>(&store, "longest_chain")?;
    let start = longest_chain.call(&mut store, limit as i32)?;

    match *store.data() {
        Some((recorded, steps)) if recorded == start as u32 => {
            println!("longest chain below {limit}: {start} ({steps} steps)")
        }
        Some((recorded, _)) => bail!("the module returned {start}, but its last record was {recorded}"),
        None => println!("no chain starts below {limit}"),
    }
    println!("code runs in place: {}", if module.code().runs_in_place() { "yes" } else { "no" });
    Ok(())
}
