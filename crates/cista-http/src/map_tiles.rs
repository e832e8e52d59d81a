//! Map tiles under the records map (issue 13, item 6), when the operator configures a tile
//! server (`[map] tile_url`, an XYZ URL template as Leaflet takes it). Off by default: the map
//! page then draws points on a plain grid and no browser asks a map provider for anything.
//! When on, the map page loads the vendored Leaflet and the tiles, its Content Security Policy
//! allows images from that one origin only, and the trust page lists the provider among the
//! services that receive data (the area staff look at, and their IP address).

/// A configured tile server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapTiles {
    /// `https://tile.example.org/{z}/{x}/{y}.png`
    pub template: String,
    /// Shown on the map, as the provider's terms ask.
    pub attribution: String,
    /// `https://tile.example.org`: the one origin the map page may load images from.
    pub origin: String,
}

impl MapTiles {
    /// Checks a template: absolute `https`, with `{z}`, `{x}` and `{y}`, no other placeholder,
    /// no user name or password. The error names the fix.
    pub fn parse(template: &str, attribution: &str) -> Result<Self, String> {
        let template = template.trim();
        for part in ["{z}", "{x}", "{y}"] {
            if !template.contains(part) {
                return Err(format!(
                    "map.tile_url `{template}` needs {part}: write it as https://host/{{z}}/{{x}}/{{y}}.png"
                ));
            }
        }
        let filled = template
            .replace("{z}", "0")
            .replace("{x}", "0")
            .replace("{y}", "0");
        if filled.contains('{') || filled.contains('}') {
            return Err(format!(
                "map.tile_url `{template}` has a placeholder other than {{z}}, {{x}}, {{y}}: name one host"
            ));
        }
        let url = url::Url::parse(&filled)
            .map_err(|_| format!("map.tile_url `{template}` is not an address"))?;
        if url.scheme() != "https" {
            return Err(format!(
                "map.tile_url `{template}` must start with https://"
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "map.tile_url `{template}` must not carry a user name or password"
            ));
        }
        let origin = url.origin().ascii_serialization();
        if origin == "null" {
            return Err(format!("map.tile_url `{template}` needs a host"));
        }
        Ok(Self {
            template: template.to_owned(),
            attribution: attribution.trim().to_owned(),
            origin,
        })
    }

    /// The trust page's entry: who receives what.
    pub fn third_party(&self) -> crate::ThirdParty {
        crate::ThirdParty {
            service: "Map tiles".to_owned(),
            public_endpoint: self.origin.clone(),
            endpoint: self.origin.clone(),
            receives: "staff's browsers load map tiles from it on the records map: it learns \
                       which area they look at and their IP address, never a record"
                .to_owned(),
            settings: vec!["map.tile_url".to_owned()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_is_https_with_its_three_placeholders() {
        let tiles =
            MapTiles::parse("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "© OSM").unwrap();
        assert_eq!(tiles.origin, "https://tile.openstreetmap.org");
        for bad in [
            "http://tile.openstreetmap.org/{z}/{x}/{y}.png",
            "https://tile.openstreetmap.org/{z}/{x}.png",
            "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png",
            "https://user:pw@tiles.example/{z}/{x}/{y}.png",
            "{z}/{x}/{y}",
        ] {
            assert!(MapTiles::parse(bad, "").is_err(), "{bad}");
        }
    }
}
