//! Print the entities of a text file as compact JSON.
//! `cargo run --example entities_file -- FILE [TITLE_CHARS]`
fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: entities_file FILE [TITLE_CHARS]");
    let title: usize = args.next().map(|s| s.parse().unwrap()).unwrap_or(0);
    let text = std::fs::read_to_string(path).unwrap();
    let stage = wiredesk::stage::entities::EntityStage::new(&Default::default()).unwrap();
    for e in stage.extract(&text, title) {
        println!("{}", serde_json::to_string(&e).unwrap());
    }
}
