//! Renders deep-copy and the Resource impls of every version package into OUT_DIR
//! (they must live in this crate: Rust's orphan rule).

fn main() {
    codegen::build_script();
}
