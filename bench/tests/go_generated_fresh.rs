//! The Go twin's checked-in generated code (`bench/go/generated/` and the deep-copy file) is what
//! `bench/go/hack/update-codegen.sh` makes from `bench/go/apis/` today: the script runs in a
//! temporary copy of the module and the outputs are compared file by file. Go is required: the
//! test fails without it (it runs in `scripts/e2e.sh`, with the other `needs_go_*` tests).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every file under `dir`, by path relative to `base`, with its bytes.
fn files(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(base, &path, out);
        } else {
            out.insert(path.strip_prefix(base).unwrap().to_path_buf(), std::fs::read(&path).unwrap());
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

/// The generated outputs of the module at `root`.
fn generated(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    files(root, &root.join("generated"), &mut out);
    let deepcopy = Path::new("apis/bitcoincontroller/v1/zz_generated.deepcopy.go");
    out.insert(deepcopy.to_path_buf(), std::fs::read(root.join(deepcopy)).unwrap_or_default());
    out
}

#[test]
fn needs_go_checked_in_go_code_is_fresh() {
    let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("go");
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("go");
    copy_dir(&module, &copy);
    let run = std::process::Command::new("bash")
        .arg(copy.join("hack/update-codegen.sh"))
        .env("GOFLAGS", "-mod=readonly -buildvcs=false")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "bench/go/hack/update-codegen.sh failed (it needs Go 1.26 and the pinned generators):\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let (checked_in, fresh) = (generated(&module), generated(&copy));
    assert!(checked_in.len() > 10, "bench/go holds only {} generated files", checked_in.len());
    let stale: Vec<String> = checked_in
        .keys()
        .chain(fresh.keys())
        .filter(|p| checked_in.get(*p) != fresh.get(*p))
        .map(|p| {
            let state = match (checked_in.contains_key(p), fresh.contains_key(p)) {
                (true, false) => "no longer generated",
                (false, true) => "missing",
                _ => "differs",
            };
            format!("{} ({state})", p.display())
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(
        stale.is_empty(),
        "the Go twin's generated code is stale; run bench/go/hack/update-codegen.sh and commit:\n{}",
        stale.join("\n")
    );
}
