//! Compiles `proto/parallax/v1/*.proto` with protox (pure Rust: no protoc, no download) and
//! generates prost messages and the tonic admin client and server.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("proto");
    let files: Vec<PathBuf> = ["types", "gossip", "sync", "admin"]
        .iter()
        .map(|name| root.join(format!("parallax/v1/{name}.proto")))
        .collect();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let descriptors = protox::compile(&files, [&root])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
