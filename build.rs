// `sqlx::migrate!()` embeds `migrations/` at compile time, and cargo does not
// know it reads them: without this, a new migration is left out of an
// incremental build (what `sqlx migrate build-script` writes).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
