// SPDX-License-Identifier: MIT
//
// Finds libgpuvm and measures the C structs the crate shares.
//
// Where the library comes from, first match wins:
//   1. LIBGPUVM_BUILD_DIR: a Meson build directory of this project;
//   2. ../build: the build directory the README's commands create;
//   3. pkg-config libgpuvm: an installed library.
// The C compiler (CC, default cc) then builds and runs layout/probe.c
// against the same headers; its output (sizes, alignments and offsets as
// the C compiler sees them) is what tests/layout.rs compares the crate's
// hand-written declarations with.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Found {
    lib_dir: PathBuf,
    include_dirs: Vec<PathBuf>,
}

fn from_build_dir(build: &Path, source: &Path) -> Option<Found> {
    let lib_dir = build.join("src");
    if !lib_dir.join("libgpuvm.so").exists() {
        return None;
    }
    Some(Found {
        lib_dir,
        include_dirs: vec![source.join("include"), build.join("include")],
    })
}

fn from_pkg_config() -> Option<Found> {
    let out = Command::new("pkg-config")
        .args(["--cflags-only-I", "--libs-only-L", "libgpuvm"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut include_dirs = Vec::new();
    let mut lib_dir = None;
    for word in text.split_whitespace() {
        if let Some(dir) = word.strip_prefix("-I") {
            include_dirs.push(PathBuf::from(dir));
        } else if let Some(dir) = word.strip_prefix("-L") {
            lib_dir = Some(PathBuf::from(dir));
        }
    }
    let lib_dir = match lib_dir {
        Some(dir) => dir,
        None => {
            let out = Command::new("pkg-config")
                .args(["--variable=libdir", "libgpuvm"])
                .output()
                .ok()?;
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        }
    };
    Some(Found {
        lib_dir,
        include_dirs,
    })
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let source = manifest.parent().unwrap().to_path_buf();
    println!("cargo:rerun-if-env-changed=LIBGPUVM_BUILD_DIR");
    println!("cargo:rerun-if-env-changed=CC");
    println!("cargo:rerun-if-changed=layout/probe.c");

    let found = match env::var_os("LIBGPUVM_BUILD_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let dir = if dir.is_relative() {
                source.join(dir)
            } else {
                dir
            };
            from_build_dir(&dir, &source).unwrap_or_else(|| {
                panic!(
                    "LIBGPUVM_BUILD_DIR={}: no src/libgpuvm.so there",
                    dir.display()
                )
            })
        }
        None => from_build_dir(&source.join("build"), &source)
            .or_else(from_pkg_config)
            .unwrap_or_else(|| {
                panic!(
                    "libgpuvm not found: build it first (bash tools/dev.sh test, or \
                     meson setup build && ninja -C build), set LIBGPUVM_BUILD_DIR, \
                     or install it where pkg-config finds libgpuvm"
                )
            }),
    };
    println!(
        "cargo:rerun-if-changed={}",
        found.lib_dir.join("libgpuvm.so").display()
    );
    for dir in &found.include_dirs {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    // A copy inside the target directory: cargo puts such search paths on
    // LD_LIBRARY_PATH for `cargo run` and `cargo test`, also of crates that
    // depend on this one (the rpath below reaches only this crate's own
    // tests and examples).
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let copy_dir = out_dir.join("lib");
    fs::create_dir_all(&copy_dir).unwrap();
    for entry in fs::read_dir(&found.lib_dir).unwrap().flatten() {
        let name = entry.file_name();
        // Not the compiler's libgpuvm.so.*.p directories.
        if name.to_string_lossy().starts_with("libgpuvm.so") && entry.path().is_file() {
            // fs::copy follows symlinks: each name becomes a real file.
            fs::copy(entry.path(), copy_dir.join(&name)).unwrap();
        }
    }
    println!("cargo:rustc-link-search=native={}", copy_dir.display());
    println!("cargo:rustc-link-lib=dylib=gpuvm");
    // For dependent crates' own build scripts (DEP_GPUVM_LIB_DIR).
    println!("cargo:lib_dir={}", found.lib_dir.display());
    // Tests and examples run straight from target/: find the library there.
    println!(
        "cargo:rustc-link-arg=-Wl,-rpath,{}",
        found.lib_dir.display()
    );

    // The C side of the layout check.
    let probe = out_dir.join("layout-probe");
    let cc = env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let mut cmd = Command::new(&cc);
    cmd.arg("-std=gnu11")
        .arg("-o")
        .arg(&probe)
        .arg(manifest.join("layout/probe.c"));
    for dir in &found.include_dirs {
        cmd.arg("-I").arg(dir);
    }
    let status = cmd.status().unwrap_or_else(|e| panic!("running {cc}: {e}"));
    assert!(status.success(), "{cc} could not build layout/probe.c");
    let out = Command::new(&probe)
        .output()
        .expect("running the layout probe");
    assert!(out.status.success(), "the layout probe failed");
    fs::write(out_dir.join("c_layout.rs"), out.stdout).unwrap();
}
