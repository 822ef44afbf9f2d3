// SPDX-License-Identifier: MIT
//
// Checks the hand-written declarations of src/bindings.rs against the C
// side:
//  - layout: every size, alignment, member offset and member size the
//    crate relies on, against what the C compiler computes (layout/probe.c,
//    run by build.rs);
//  - functions: every declared function is linked (non-zero address),
//    exported by the library's version script, and declared with
//    GPUVM_EXPORT in a public header with the same number of parameters.
//
// Each check gathers every problem before failing, so one run lists them
// all. Table names follow C's spelling (see layout/probe.c): "S.a.b" is
// an offset, "sizeof(S.a.b)" a member size, "sizeof(S)" and "alignof(S)"
// the type's.

use core::mem::{align_of, offset_of, size_of};
use core::ptr::addr_of;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use gpuvm::bindings as b;

include!(concat!(env!("OUT_DIR"), "/c_layout.rs"));

// ---- the Rust side of the layout table ------------------------------------

#[derive(Default)]
struct Table(Vec<(String, usize)>);

impl Table {
    fn push(&mut self, name: &str, value: usize) {
        self.0.push((name.to_string(), value));
    }
}

/// The size of the member `select` points at, from its type alone: the
/// function is never called.
fn member_size<T, F>(_select: fn(*const T) -> *const F) -> usize {
    size_of::<F>()
}

/// The alignment of the member `select` points at.
fn member_align<T, F>(_select: fn(*const T) -> *const F) -> usize {
    align_of::<F>()
}

/// `ty!(t, "c_name", RustType)`: the size and alignment of a struct.
macro_rules! ty {
    ($t:ident, $c:literal, $ty:ty) => {
        $t.push(concat!("sizeof(", $c, ")"), size_of::<$ty>());
        $t.push(concat!("alignof(", $c, ")"), align_of::<$ty>());
    };
}

/// The member selector of the last step of a path, for `member_size` and
/// `member_align` (works for union members too: only a place is named).
macro_rules! last {
    ($ty:ty => $f:ident) => {
        |p: *const $ty| unsafe { addr_of!((*p).$f) }
    };
    ($ty:ty => $f:ident, $($rest:tt)+) => {
        last!($($rest)+)
    };
}

/// `field!(t, "c.name", Outer => member, Inner => member, ...)`: the offset
/// of a member (the sum of the `offset_of!` of each step from the outer
/// struct down) and its size.
macro_rules! field {
    ($t:ident, $c:literal, $($ty:ty => $f:ident),+) => {
        $t.push($c, 0 $(+ offset_of!($ty, $f))+);
        $t.push(concat!("sizeof(", $c, ")"), member_size(last!($($ty => $f),+)));
    };
}

/// `nested!(...)`, as `field!`: a nested anonymous C struct that the crate
/// declares as a helper struct; also checks the helper's alignment.
macro_rules! nested {
    ($t:ident, $c:literal, $($ty:ty => $f:ident),+) => {
        field!($t, $c, $($ty => $f),+);
        $t.push(concat!("alignof(", $c, ")"), member_align(last!($($ty => $f),+)));
    };
}

fn rust_layout() -> Table {
    let mut t = Table::default();

    ty!(t, "gpuvm_list_head", b::gpuvm_list_head);
    field!(t, "gpuvm_list_head.next", b::gpuvm_list_head => next);
    field!(t, "gpuvm_list_head.prev", b::gpuvm_list_head => prev);

    // The crate's gpuvm_llist_node stands for both C structs.
    ty!(t, "gpuvm_llist_node", b::gpuvm_llist_node);
    field!(t, "gpuvm_llist_node.next", b::gpuvm_llist_node => next);
    ty!(t, "gpuvm_llist_head", b::gpuvm_llist_node);
    field!(t, "gpuvm_llist_head.first", b::gpuvm_llist_node => next);

    // Opaque: the size and alignment are all there is to check.
    ty!(t, "gpuvm_mutex", b::gpuvm_mutex);
    ty!(t, "gpuvm_ww_mutex", b::gpuvm_ww_mutex);
    ty!(t, "gpuvm_lockdep_map", b::gpuvm_lockdep_map);
    ty!(t, "gpuvm_dma_resv", b::gpuvm_dma_resv);
    // The crate locks a resv as the ww_mutex at its start.
    t.push("gpuvm_dma_resv.lock", 0);
    t.push(
        "sizeof(gpuvm_dma_resv.lock)",
        size_of::<b::gpuvm_ww_mutex>(),
    );

    ty!(t, "gpuvm_gem_object_funcs", b::gpuvm_gem_object_funcs);
    field!(t, "gpuvm_gem_object_funcs.free", b::gpuvm_gem_object_funcs => free);

    ty!(t, "gpuvm_gem_object", b::gpuvm_gem_object);
    field!(t, "gpuvm_gem_object.refcount", b::gpuvm_gem_object => refcount);
    field!(t, "gpuvm_gem_object.size", b::gpuvm_gem_object => size);
    field!(t, "gpuvm_gem_object.funcs", b::gpuvm_gem_object => funcs);
    field!(t, "gpuvm_gem_object.resv", b::gpuvm_gem_object => resv);
    field!(t, "gpuvm_gem_object._resv", b::gpuvm_gem_object => _resv);
    // gpuvm_gem_gpuva; its private tail (hash__, hash_bits__, nr_vm_bos__)
    // is covered by its size.
    nested!(t, "gpuvm_gem_object.gpuva", b::gpuvm_gem_object => gpuva);
    field!(t, "gpuvm_gem_object.gpuva.list",
        b::gpuvm_gem_object => gpuva, b::gpuvm_gem_gpuva => list);
    field!(t, "gpuvm_gem_object.gpuva.lock",
        b::gpuvm_gem_object => gpuva, b::gpuvm_gem_gpuva => lock);

    ty!(t, "gpuva", b::gpuva);
    field!(t, "gpuva.vm", b::gpuva => vm);
    field!(t, "gpuva.vm_bo", b::gpuva => vm_bo);
    field!(t, "gpuva.flags", b::gpuva => flags);
    nested!(t, "gpuva.va", b::gpuva => va); // gpuva_range
    field!(t, "gpuva.va.addr", b::gpuva => va, b::gpuva_range => addr);
    field!(t, "gpuva.va.range", b::gpuva => va, b::gpuva_range => range);
    nested!(t, "gpuva.gem", b::gpuva => gem); // gpuva_gem
    field!(t, "gpuva.gem.offset", b::gpuva => gem, b::gpuva_gem => offset);
    field!(t, "gpuva.gem.obj", b::gpuva => gem, b::gpuva_gem => obj);
    field!(t, "gpuva.gem.entry", b::gpuva => gem, b::gpuva_gem => entry);
    // C's rb (leaf__ alone) is flattened by the crate.
    field!(t, "gpuva.rb.leaf__", b::gpuva => rb_leaf);

    ty!(t, "gpuvm", b::gpuvm);
    field!(t, "gpuvm.name", b::gpuvm => name);
    field!(t, "gpuvm.flags", b::gpuvm => flags);
    field!(t, "gpuvm.mm_start", b::gpuvm => mm_start);
    field!(t, "gpuvm.mm_range", b::gpuvm => mm_range);
    // b::gpuvm_rb holds only the private index__: the offset, size and
    // alignment of rb measure all of it.
    nested!(t, "gpuvm.rb", b::gpuvm => rb);
    field!(t, "gpuvm.kref", b::gpuvm => kref);
    field!(t, "gpuvm.kernel_alloc_node", b::gpuvm => kernel_alloc_node);
    field!(t, "gpuvm.ops", b::gpuvm => ops);
    field!(t, "gpuvm.r_obj", b::gpuvm => r_obj);
    nested!(t, "gpuvm.extobj", b::gpuvm => extobj); // gpuvm_bo_list
    field!(t, "gpuvm.extobj.list", b::gpuvm => extobj, b::gpuvm_bo_list => list);
    field!(t, "gpuvm.extobj.local_list",
        b::gpuvm => extobj, b::gpuvm_bo_list => local_list);
    field!(t, "gpuvm.extobj.lock", b::gpuvm => extobj, b::gpuvm_bo_list => lock);
    nested!(t, "gpuvm.evict", b::gpuvm => evict); // gpuvm_bo_list
    field!(t, "gpuvm.evict.list", b::gpuvm => evict, b::gpuvm_bo_list => list);
    field!(t, "gpuvm.evict.local_list",
        b::gpuvm => evict, b::gpuvm_bo_list => local_list);
    field!(t, "gpuvm.evict.lock", b::gpuvm => evict, b::gpuvm_bo_list => lock);
    field!(t, "gpuvm.bo_defer", b::gpuvm => bo_defer);

    // The private hash_next__ at the end is covered by the size, the
    // private on_extobj__ and on_evict__ bytes by kref's offset.
    ty!(t, "gpuvm_bo", b::gpuvm_bo);
    field!(t, "gpuvm_bo.vm", b::gpuvm_bo => vm);
    field!(t, "gpuvm_bo.obj", b::gpuvm_bo => obj);
    field!(t, "gpuvm_bo.evicted", b::gpuvm_bo => evicted);
    field!(t, "gpuvm_bo.kref", b::gpuvm_bo => kref);
    nested!(t, "gpuvm_bo.list", b::gpuvm_bo => list); // gpuvm_bo_lists
    field!(t, "gpuvm_bo.list.gpuva", b::gpuvm_bo => list, b::gpuvm_bo_lists => gpuva);
    nested!(t, "gpuvm_bo.list.entry",
        b::gpuvm_bo => list, b::gpuvm_bo_lists => entry); // gpuvm_bo_entry
    field!(t, "gpuvm_bo.list.entry.gem",
        b::gpuvm_bo => list, b::gpuvm_bo_lists => entry, b::gpuvm_bo_entry => gem);
    field!(t, "gpuvm_bo.list.entry.extobj",
        b::gpuvm_bo => list, b::gpuvm_bo_lists => entry, b::gpuvm_bo_entry => extobj);
    field!(t, "gpuvm_bo.list.entry.evict",
        b::gpuvm_bo => list, b::gpuvm_bo_lists => entry, b::gpuvm_bo_entry => evict);
    field!(t, "gpuvm_bo.list.entry.bo_defer",
        b::gpuvm_bo => list, b::gpuvm_bo_lists => entry, b::gpuvm_bo_entry => bo_defer);

    ty!(t, "gpuva_op_map", b::gpuva_op_map);
    nested!(t, "gpuva_op_map.va", b::gpuva_op_map => va); // gpuva_range
    field!(t, "gpuva_op_map.va.addr", b::gpuva_op_map => va, b::gpuva_range => addr);
    field!(t, "gpuva_op_map.va.range", b::gpuva_op_map => va, b::gpuva_range => range);
    nested!(t, "gpuva_op_map.gem", b::gpuva_op_map => gem); // gpuva_op_map_gem
    field!(t, "gpuva_op_map.gem.offset",
        b::gpuva_op_map => gem, b::gpuva_op_map_gem => offset);
    field!(t, "gpuva_op_map.gem.obj", b::gpuva_op_map => gem, b::gpuva_op_map_gem => obj);

    ty!(t, "gpuva_op_unmap", b::gpuva_op_unmap);
    field!(t, "gpuva_op_unmap.va", b::gpuva_op_unmap => va);
    field!(t, "gpuva_op_unmap.keep", b::gpuva_op_unmap => keep);

    ty!(t, "gpuva_op_remap", b::gpuva_op_remap);
    field!(t, "gpuva_op_remap.prev", b::gpuva_op_remap => prev);
    field!(t, "gpuva_op_remap.next", b::gpuva_op_remap => next);
    field!(t, "gpuva_op_remap.unmap", b::gpuva_op_remap => unmap);

    // C's union is anonymous (its members are gpuva_op's); the crate
    // names it u. The prefetch member it leaves out is smaller than map.
    ty!(t, "gpuva_op", b::gpuva_op);
    field!(t, "gpuva_op.entry", b::gpuva_op => entry);
    field!(t, "gpuva_op.op", b::gpuva_op => op);
    field!(t, "gpuva_op.map", b::gpuva_op => u, b::gpuva_op_union => map);
    field!(t, "gpuva_op.remap", b::gpuva_op => u, b::gpuva_op_union => remap);
    field!(t, "gpuva_op.unmap", b::gpuva_op => u, b::gpuva_op_union => unmap);

    ty!(t, "gpuvm_map_req", b::gpuvm_map_req);
    field!(t, "gpuvm_map_req.map", b::gpuvm_map_req => map);

    ty!(t, "gpuvm_ops", b::gpuvm_ops);
    field!(t, "gpuvm_ops.vm_free", b::gpuvm_ops => vm_free);
    field!(t, "gpuvm_ops.op_alloc", b::gpuvm_ops => op_alloc);
    field!(t, "gpuvm_ops.op_free", b::gpuvm_ops => op_free);
    field!(t, "gpuvm_ops.vm_bo_alloc", b::gpuvm_ops => vm_bo_alloc);
    field!(t, "gpuvm_ops.vm_bo_free", b::gpuvm_ops => vm_bo_free);
    field!(t, "gpuvm_ops.vm_bo_validate", b::gpuvm_ops => vm_bo_validate);
    field!(t, "gpuvm_ops.sm_step_map", b::gpuvm_ops => sm_step_map);
    field!(t, "gpuvm_ops.sm_step_remap", b::gpuvm_ops => sm_step_remap);
    field!(t, "gpuvm_ops.sm_step_unmap", b::gpuvm_ops => sm_step_unmap);

    // Everything after name is private: covered by the size.
    ty!(t, "gpuvm_device", b::gpuvm_device);
    field!(t, "gpuvm_device.name", b::gpuvm_device => name);

    // The private outer__ at the end is covered by the size.
    ty!(t, "gpuvm_device_bound", b::gpuvm_device_bound);
    field!(t, "gpuvm_device_bound.dev", b::gpuvm_device_bound => dev);
    field!(t, "gpuvm_device_bound.generation", b::gpuvm_device_bound => generation);
    field!(t, "gpuvm_device_bound.dep_map", b::gpuvm_device_bound => dep_map);

    ty!(t, "gpuvm_scatterlist", b::gpuvm_scatterlist);
    field!(t, "gpuvm_scatterlist.page_link", b::gpuvm_scatterlist => page_link);
    field!(t, "gpuvm_scatterlist.offset", b::gpuvm_scatterlist => offset);
    field!(t, "gpuvm_scatterlist.length", b::gpuvm_scatterlist => length);
    field!(t, "gpuvm_scatterlist.dma_address", b::gpuvm_scatterlist => dma_address);
    field!(t, "gpuvm_scatterlist.dma_length", b::gpuvm_scatterlist => dma_length);

    ty!(t, "gpuvm_sg_table", b::gpuvm_sg_table);
    field!(t, "gpuvm_sg_table.sgl", b::gpuvm_sg_table => sgl);
    field!(t, "gpuvm_sg_table.nents", b::gpuvm_sg_table => nents);
    field!(t, "gpuvm_sg_table.orig_nents", b::gpuvm_sg_table => orig_nents);

    // The private tail (resv__, sgt_res__, sgt_pages_ref__) is covered by
    // the size.
    ty!(t, "gpuvm_gem_shmem_object", b::gpuvm_gem_shmem_object);
    field!(t, "gpuvm_gem_shmem_object.base", b::gpuvm_gem_shmem_object => base);
    field!(t, "gpuvm_gem_shmem_object.dev", b::gpuvm_gem_shmem_object => dev);
    field!(t, "gpuvm_gem_shmem_object.pages", b::gpuvm_gem_shmem_object => pages);
    field!(t, "gpuvm_gem_shmem_object.pages_use_count",
        b::gpuvm_gem_shmem_object => pages_use_count);
    field!(t, "gpuvm_gem_shmem_object.pages_pin_count",
        b::gpuvm_gem_shmem_object => pages_pin_count);
    field!(t, "gpuvm_gem_shmem_object.sgt", b::gpuvm_gem_shmem_object => sgt);
    field!(t, "gpuvm_gem_shmem_object.imported", b::gpuvm_gem_shmem_object => imported);
    field!(t, "gpuvm_gem_shmem_object.map_wc", b::gpuvm_gem_shmem_object => map_wc);
    field!(t, "gpuvm_gem_shmem_object.sgt_lock", b::gpuvm_gem_shmem_object => sgt_lock);

    t
}

/// The entries as a map; a name given twice is an error of the table.
fn to_map<'a>(
    side: &str,
    entries: impl Iterator<Item = (&'a str, usize)>,
    errors: &mut Vec<String>,
) -> BTreeMap<&'a str, usize> {
    let mut map = BTreeMap::new();
    for (name, value) in entries {
        if map.insert(name, value).is_some() {
            errors.push(format!("{name}: listed twice on the {side} side"));
        }
    }
    map
}

/// Every difference between the two tables, by name: a value that
/// differs, a name on one side only, a name listed twice.
fn compare_layouts(c: &[(&str, usize)], rust: &[(&str, usize)]) -> Vec<String> {
    let mut errors = Vec::new();
    let c = to_map("C", c.iter().copied(), &mut errors);
    let r = to_map("Rust", rust.iter().copied(), &mut errors);
    for (name, &cv) in &c {
        match r.get(name) {
            Some(&rv) if rv == cv => {}
            Some(&rv) => errors.push(format!("{name}: C {cv}, Rust {rv}")),
            None => errors.push(format!(
                "{name}: C {cv}, not checked on the Rust side (tests/layout.rs)"
            )),
        }
    }
    for (name, rv) in &r {
        if !c.contains_key(name) {
            errors.push(format!(
                "{name}: Rust {rv}, not measured on the C side (layout/probe.c)"
            ));
        }
    }
    errors
}

#[test]
fn layout_matches_c() {
    let rust = rust_layout();
    let rust: Vec<(&str, usize)> = rust.0.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let errors = compare_layouts(C_LAYOUT, &rust);
    assert!(
        errors.is_empty(),
        "{} layout mismatch(es) between src/bindings.rs and the C headers:\n  {}",
        errors.len(),
        errors.join("\n  ")
    );
    assert!(
        C_LAYOUT.len() > 100,
        "suspiciously small C layout table: {} entries",
        C_LAYOUT.len()
    );
}

#[test]
fn layout_comparison_reports_every_difference() {
    let c = [("a.x", 0), ("a.y", 8), ("a.z", 16), ("a.z", 16)];
    let rust = [("a.x", 0), ("a.y", 4), ("a.w", 16), ("a.w", 16)];
    let errors = compare_layouts(&c, &rust);
    assert_eq!(
        errors,
        [
            "a.z: listed twice on the C side",
            "a.w: listed twice on the Rust side",
            "a.y: C 8, Rust 4",
            "a.z: C 16, not checked on the Rust side (tests/layout.rs)",
            "a.w: Rust 16, not measured on the C side (layout/probe.c)",
        ]
    );
}

/// The structs and unions of bindings.rs with a body, each with its
/// `pub` fields (the ones the test can name; the others are checked
/// through their neighbours and the size).
fn binding_types(src: &str) -> Vec<(String, Vec<String>)> {
    let src = strip_comments(src, true);
    let mut out = Vec::new();
    for (at, kw) in src
        .match_indices("pub struct ")
        .chain(src.match_indices("pub union "))
    {
        let after = &src[at + kw.len()..];
        let name_len = after
            .find(|c: char| !is_ident_char(c))
            .unwrap_or(after.len());
        let rest = after[name_len..].trim_start();
        if !rest.starts_with('{') {
            continue; // a tuple or unit struct: nothing shared with C
        }
        let open = src.len() - rest.len();
        let (body, _) = bracketed(&src, open, '{', '}').expect("struct body not closed");
        let fields = split_top_level(body)
            .iter()
            .map(|f| skip_attributes(f))
            .filter_map(|f| f.strip_prefix("pub "))
            .map(|f| f[..f.find(|c: char| !is_ident_char(c)).unwrap_or(f.len())].to_string())
            .collect();
        out.push((after[..name_len].to_string(), fields));
    }
    out.sort();
    out
}

/// `item` without the attributes (`#[...]`) before it.
fn skip_attributes(mut item: &str) -> &str {
    while item.starts_with("#[") {
        match bracketed(item, 1, '[', ']') {
            Some((_, end)) => item = item[end..].trim_start(),
            None => break,
        }
    }
    item
}

/// What `layout` (the text of this file) does not measure of `types`: a
/// type never named as `b::TYPE`, a public field never as `b::TYPE => field`.
fn uncovered(types: &[(String, Vec<String>)], layout: &str) -> Vec<String> {
    let layout = layout.split_whitespace().collect::<Vec<_>>().join(" ");
    let named = |what: &str| {
        layout
            .match_indices(what)
            .any(|(i, _)| !layout[i + what.len()..].starts_with(is_ident_char))
    };
    let mut errors = Vec::new();
    for (ty, fields) in types {
        if !named(&format!("b::{ty}")) {
            errors.push(format!("struct {ty}: not measured"));
        }
        for f in fields {
            if !named(&format!("b::{ty} => {f}")) {
                errors.push(format!("{ty}.{f}: not measured"));
            }
        }
    }
    errors
}

#[test]
fn layout_covers_every_binding() {
    let root = source_root();
    let types = binding_types(&read(&root.join("rust/src/bindings.rs")));
    assert!(
        types.len() > 20,
        "found only {} structs in src/bindings.rs",
        types.len()
    );
    let errors = uncovered(&types, &read(&root.join("rust/tests/layout.rs")));
    assert!(
        errors.is_empty(),
        "src/bindings.rs declares what the layout check does not cover; add it to \
         rust_layout() in tests/layout.rs and to layout/probe.c:\n  {}",
        errors.join("\n  ")
    );
}

#[test]
fn coverage_scan_reads_bindings() {
    let src = "/// `struct a`.\n#[repr(C)]\npub struct a {\n    pub x: *mut a,\n    \
               hidden: [u64; 2],\n    #[doc(hidden)]\n    pub cb: Option<unsafe extern \"C\" fn(p: *mut a, q: u8)>,\n}\n\
               pub struct t(u8);\npub union u { pub m: a, pub n: u64 }\n\
               // pub struct commented { pub z: u8 }\n";
    let types = binding_types(src);
    let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        types,
        [
            ("a".to_string(), own(&["x", "cb"])),
            ("u".to_string(), own(&["m", "n"]))
        ]
    );
    let layout =
        "ty!(t, \"a\", b::a);\nfield!(t, \"a.x\", b::a\n => x);\nfield!(t, \"u.m\", b::u => m);";
    assert_eq!(
        uncovered(&types, layout),
        ["a.cb: not measured", "u.n: not measured"]
    );
    assert_eq!(
        uncovered(&types, "b::ab => x"),
        [
            "struct a: not measured",
            "a.x: not measured",
            "a.cb: not measured",
            "struct u: not measured",
            "u.m: not measured",
            "u.n: not measured",
        ]
    );
}

// ---- the declared functions ------------------------------------------------

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Identifiers and single punctuation characters, in order.
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let len = if is_ident_char(c) {
            rest.find(|c: char| !is_ident_char(c)).unwrap_or(rest.len())
        } else {
            c.len_utf8()
        };
        if !c.is_whitespace() {
            out.push(&rest[..len]);
        }
        rest = &rest[len..];
    }
    out
}

/// `text` without its /* */ comments and, if `line_comments`, its //
/// comments. Strings are not looked at: the files read have no comment
/// markers inside strings.
fn strip_comments(text: &str, line_comments: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let block = rest.find("/*");
        let line = if line_comments { rest.find("//") } else { None };
        let Some(at) = block.into_iter().chain(line).min() else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at]);
        let end = if block == Some(at) {
            out.push(' ');
            rest[at + 2..]
                .find("*/")
                .map_or(rest.len(), |e| at + 2 + e + 2)
        } else {
            rest[at..].find('\n').map_or(rest.len(), |e| at + e)
        };
        rest = &rest[end..];
    }
}

/// The symbols a version script exports: every name directly followed
/// by ';' (not the node names after '}').
fn version_script_symbols(text: &str) -> BTreeSet<String> {
    let text = strip_comments(text, false);
    let toks = tokens(&text);
    let mut out = BTreeSet::new();
    for (i, w) in toks.iter().enumerate() {
        let ident = w
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if ident && toks.get(i + 1) == Some(&";") && (i == 0 || toks[i - 1] != "}") {
            out.insert(w.to_string());
        }
    }
    out
}

/// What is wrong with the declared functions: an address 0 (not linked),
/// a name the version script does not export, a name given twice.
fn check_declared(fns: &[(&str, usize)], exported: &BTreeSet<String>) -> Vec<String> {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    if fns.is_empty() {
        errors.push("declared_functions() is empty".to_string());
    }
    for &(name, addr) in fns {
        if addr == 0 {
            errors.push(format!("{name}: address 0"));
        }
        if !exported.contains(name) {
            errors.push(format!("{name}: not exported by src/libgpuvm.sym"));
        }
        if !seen.insert(name) {
            errors.push(format!("{name}: declared twice"));
        }
    }
    errors
}

#[test]
fn declared_functions_are_exported() {
    let fns = b::declared_functions();
    let sym_path = source_root().join("src/libgpuvm.sym");
    let exported = version_script_symbols(&read(&sym_path));
    assert!(
        exported.len() > 50,
        "read only {} symbols from {}",
        exported.len(),
        sym_path.display()
    );
    let errors = check_declared(&fns, &exported);
    assert!(
        errors.is_empty(),
        "declared functions:\n  {}",
        errors.join("\n  ")
    );
}

#[test]
fn declared_function_check_reports_every_problem() {
    let sym = "/* comment; */ V_1 {\nglobal:\n\tf_a;\n\tf_b ;\nlocal:\n\t*;\n};\n\
               V_2 {\nglobal:\n\tf_c;\n} V_1;\n";
    let exported = version_script_symbols(sym);
    let want: BTreeSet<String> = ["f_a", "f_b", "f_c"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(exported, want);
    let fns = [("f_a", 1), ("f_b", 0), ("f_x", 2), ("f_a", 1)];
    assert_eq!(
        check_declared(&fns, &exported),
        [
            "f_b: address 0",
            "f_x: not exported by src/libgpuvm.sym",
            "f_a: declared twice"
        ]
    );
    assert_eq!(
        check_declared(&[], &exported),
        ["declared_functions() is empty"]
    );
}

/// The comma-separated items of `list` (e.g. the text between a
/// function's parentheses), trimmed and without empty ones, splitting only
/// at commas outside (), [], <> and {}; the `>` of `->` is no bracket.
fn split_top_level(list: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut prev = ' ';
    for (i, c) in list.char_indices() {
        match c {
            '(' | '[' | '<' | '{' => depth += 1,
            '>' if prev == '-' => {}
            ')' | ']' | '>' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(list[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        prev = c;
    }
    out.push(list[start..].trim());
    out.retain(|item| !item.is_empty());
    out
}

/// The number of parameters in a parameter list; C's `(void)` has none.
fn count_params(list: &str) -> usize {
    match split_top_level(list).as_slice() {
        ["void"] => 0,
        items => items.len(),
    }
}

/// The text inside the bracket opening at `open` (a byte index into
/// `text`), and the index just past its closing bracket.
fn bracketed(text: &str, open: usize, o: char, c: char) -> Option<(&str, usize)> {
    let mut depth = 0;
    for (i, ch) in text[open..].char_indices() {
        if ch == o {
            depth += 1;
        } else if ch == c {
            depth -= 1;
            if depth == 0 {
                return Some((&text[open + 1..open + i], open + i + 1));
            }
        }
    }
    None
}

/// The functions of the `c_functions! { ... }` invocation in bindings.rs,
/// with their parameter counts, in order.
fn rust_declarations(src: &str) -> Vec<(String, usize)> {
    let src = strip_comments(src, true);
    let start = src
        .match_indices("c_functions!")
        .map(|(i, _)| i)
        .find(|&i| !src[..i].trim_end().ends_with("macro_rules!"))
        .expect("no c_functions! invocation in src/bindings.rs");
    let open = start
        + src[start..]
            .find('{')
            .expect("c_functions! without a block");
    let (block, _) = bracketed(&src, open, '{', '}').expect("c_functions! block not closed");

    let mut out = Vec::new();
    let mut rest = block;
    while let Some(f) = rest
        .match_indices("fn ")
        .map(|(i, _)| i)
        .find(|&i| !rest[..i].ends_with(is_ident_char))
    {
        let after = &rest[f + 3..];
        let name_len = after
            .find(|c: char| !is_ident_char(c))
            .unwrap_or(after.len());
        let name = after[..name_len].to_string();
        let open = f + 3 + rest[f + 3..].find('(').expect("fn without parameters");
        let (params, end) = bracketed(rest, open, '(', ')').expect("parameters not closed");
        out.push((name, count_params(params)));
        // The return type may hold `fn` types too: go on after the ';'.
        rest = &rest[end + rest[end..].find(';').map_or(rest.len() - end, |s| s + 1)..];
    }
    out
}

/// `text` without preprocessor directives (with their continuation
/// lines): the definition of GPUVM_EXPORT itself is not a declaration.
fn strip_directives(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut continued = false;
    for line in text.lines() {
        let directive = continued || line.trim_start().starts_with('#');
        continued = directive && line.trim_end().ends_with('\\');
        if !directive {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Every function a header declares with GPUVM_EXPORT, with its
/// parameter count.
fn header_declarations(text: &str) -> Vec<(String, usize)> {
    let text = strip_directives(&strip_comments(text, true));
    let mut out = Vec::new();
    for (at, _) in text.match_indices("GPUVM_EXPORT") {
        let before_ok = !text[..at].ends_with(is_ident_char);
        let after_ok = !text[at + 12..].starts_with(is_ident_char);
        if !before_ok || !after_ok {
            continue;
        }
        let decl_end = text[at..].find([';', '{']).map_or(text.len(), |e| at + e);
        let decl = &text[at..decl_end];
        // The parameters are the first parenthesis not of an attribute.
        let mut pos = 0;
        while let Some(p) = decl[pos..].find('(').map(|p| pos + p) {
            let name_start = decl[..p].trim_end();
            let name_start = &name_start[name_start
                .rfind(|c: char| !is_ident_char(c))
                .map_or(0, |i| i + 1)..];
            let Some((params, end)) = bracketed(decl, p, '(', ')') else {
                break;
            };
            if name_start.is_empty() || name_start.starts_with("__") {
                pos = end;
                continue;
            }
            out.push((name_start.to_string(), count_params(params)));
            break;
        }
    }
    out
}

#[test]
fn declared_functions_match_headers() {
    let root = source_root();
    let bindings = read(&root.join("rust/src/bindings.rs"));
    let rust = rust_declarations(&bindings);

    // The scan of bindings.rs must see what the macro declares.
    let declared: Vec<&str> = b::declared_functions().iter().map(|&(n, _)| n).collect();
    let scanned: Vec<&str> = rust.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        scanned, declared,
        "the scan of the c_functions! block disagrees with declared_functions()"
    );

    let include = root.join("include/gpuvm");
    let mut headers: BTreeMap<String, Vec<(String, usize)>> = BTreeMap::new();
    let mut files: Vec<PathBuf> = fs::read_dir(&include)
        .unwrap_or_else(|e| panic!("reading {}: {e}", include.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "h"))
        .collect();
    files.sort();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        for (func, n) in header_declarations(&read(file)) {
            headers.entry(func).or_default().push((name.clone(), n));
        }
    }
    assert!(
        headers.len() > 100,
        "found only {} GPUVM_EXPORT declarations",
        headers.len()
    );

    let mut errors = Vec::new();
    for (name, n) in &rust {
        match headers.get(name) {
            None => errors.push(format!(
                "{name}: not declared with GPUVM_EXPORT in include/gpuvm/*.h"
            )),
            Some(decls) => {
                for (file, hn) in decls {
                    if hn != n {
                        errors.push(format!(
                            "{name}: {n} parameter(s) in src/bindings.rs, {hn} in {file}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        errors.is_empty(),
        "declarations:\n  {}",
        errors.join("\n  ")
    );
}

#[test]
fn scanners_read_declarations() {
    assert_eq!(count_params(""), 0);
    assert_eq!(count_params(" void "), 0);
    assert_eq!(count_params("struct gpuvm *vm"), 1);
    assert_eq!(count_params("void (*f)(int a, int b), void *data"), 2);
    assert_eq!(
        count_params("a: u64, b: Option<unsafe extern \"C\" fn(x: u8) -> *mut X>,"),
        2
    );
    assert_eq!(count_params("a: [u8; 4], b: *const c_char"), 2);

    let header = "#define GPUVM_EXPORT __attribute__((visibility(\"default\")))\n\
                  #define gpuvm_m(a, \\\n b) GPUVM_EXPORT x(a, b)\n\
                  /* GPUVM_EXPORT int gpuvm_commented(int a); */\n\
                  GPUVM_EXPORT void\ngpuvm_a(struct x *x,\n\tint (*cb)(int, int));\n\
                  GPUVM_EXPORT extern int gpuvm_var;\n\
                  GPUVM_EXPORT void gpuvm_b(const char *f, ...) __attribute__((format(printf, 1, 2)));\n\
                  GPUVM_EXPORT __attribute__((pure)) int gpuvm_c(void); // GPUVM_EXPORT\n\
                  static inline int gpuvm_d(int a) { return a; }\n";
    let want: Vec<(String, usize)> = [("gpuvm_a", 2), ("gpuvm_b", 2), ("gpuvm_c", 0)]
        .iter()
        .map(|&(n, c)| (n.to_string(), c))
        .collect();
    assert_eq!(header_declarations(header), want);

    let bindings = "macro_rules! c_functions { ($($t:tt)*) => {}; }\n\
                    c_functions! {\n    // fn commented(a: u8);\n\
                    fn f_a(a: u8, cb: Option<unsafe extern \"C\" fn(x: u8, y: u8)>) -> handler_fn;\n\
                    fn f_b();\n    fn f_c(\n        a: u8,\n        b: u64,\n    ) -> c_int;\n}\n";
    let want: Vec<(String, usize)> = [("f_a", 2), ("f_b", 0), ("f_c", 2)]
        .iter()
        .map(|&(n, c)| (n.to_string(), c))
        .collect();
    assert_eq!(rust_declarations(bindings), want);
}
