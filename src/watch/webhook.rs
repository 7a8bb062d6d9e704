//! (being written)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum WebhookFormat {
    #[default]
    Json,
    Slack,
}
pub struct Webhook;
impl Webhook {
    pub fn new(_url: &str, _f: WebhookFormat) -> Result<Webhook, String> {
        Err("stub".into())
    }
    pub fn from_file(_p: &std::path::Path, _f: WebhookFormat) -> anyhow::Result<Webhook> {
        anyhow::bail!("stub")
    }
    pub fn secrets(&self) -> Vec<String> {
        Vec::new()
    }
}
#[derive(Default)]
pub struct DeliveryOptions {
    pub attempts: u32,
}
pub struct DeliveryReport {
    pub problems: Vec<String>,
}
pub async fn deliver(
    _c: &mut rusqlite::Connection,
    _w: &[Webhook],
    _now: i64,
    _o: &DeliveryOptions,
) -> Result<DeliveryReport, String> {
    Ok(DeliveryReport { problems: vec![] })
}
