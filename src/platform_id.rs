//! Platform ids as users type them: a leaf that the config reader, the state file and the
//! command line can name without reaching the adapters (which need the config to be built).

use clap::ValueEnum;
use std::fmt;

/// A platform id as users type it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum PlatformId {
    #[value(name = "taobao-tw")]
    TaobaoTw,
    #[value(name = "taobao-enhanced")]
    TaobaoEnhanced,
    #[value(name = "vvtool")]
    Vvtool,
    #[value(name = "pandapon-taobao")]
    PandaponTaobao,
    #[value(name = "pandapon-1688")]
    Pandapon1688,
}

impl PlatformId {
    /// Every platform, in the order they are documented.
    pub const ALL: [PlatformId; 5] = [
        PlatformId::TaobaoTw,
        PlatformId::TaobaoEnhanced,
        PlatformId::Vvtool,
        PlatformId::PandaponTaobao,
        PlatformId::Pandapon1688,
    ];

    /// Parse an id, with an error that lists the valid ones.
    pub fn parse(s: &str) -> Result<PlatformId, String> {
        PlatformId::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let ids: Vec<String> = PlatformId::ALL.iter().map(|p| p.name()).collect();
                format!(
                    "unknown platform {s:?}; the platforms are: {}",
                    ids.join(", ")
                )
            })
    }
}

impl PlatformId {
    /// The name the command line takes (`as_str` gives it as `&'static str`, from the
    /// registry's spec; a test checks that the two agree).
    fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
}

impl fmt::Display for PlatformId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}
