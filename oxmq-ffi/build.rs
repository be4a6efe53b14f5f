//! Gives the shared library libzmq's soname, so that a program linked against either library
//! records `libzmq.so.5` and loads whichever one the loader finds first.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "android" || os.ends_with("bsd") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libzmq.so.5");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
