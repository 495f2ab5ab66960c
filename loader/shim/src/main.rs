//! `containerd-shim-kiln-v1`, which containerd starts for containers of the
//! runtime `io.containerd.kiln.v1`.

use containerd_shim_wasm::shim::{Cli, Config};
use kiln_shim::{node_trust, KilnShim};

fn main() {
    // Before anything else, while the shim still sees the node's file
    // system: the container's process, which loads artifacts, sees only
    // the container's.
    node_trust::read_node_keys();
    KilnShim::run(Config::default());
}
