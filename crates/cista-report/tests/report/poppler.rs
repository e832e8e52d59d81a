//! The PDF as a reader sees it, through poppler: text with `pdftotext -layout`, pages as
//! images with `pdftoppm`. Missing tools fail the test (never skip it).

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(tool: &str, args: &[&str]) {
    let output = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!(
            "{tool} could not be run ({e}): install poppler-utils \
             (apt-get install -y poppler-utils) to test the PDFs"
        )
    });
    assert!(
        output.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A rendered PDF in its own temporary directory.
pub struct Rendered {
    pub dir: tempfile::TempDir,
    pub pdf: PathBuf,
}

impl Rendered {
    pub fn new(bytes: &[u8]) -> Self {
        assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
        assert!(bytes.len() > 20_000, "a PDF of {} bytes", bytes.len());
        let dir = tempfile::tempdir().unwrap();
        let pdf = dir.path().join("results.pdf");
        std::fs::write(&pdf, bytes).unwrap();
        Self { dir, pdf }
    }

    /// The text in reading layout.
    pub fn text(&self) -> String {
        let out = self.dir.path().join("results.txt");
        run("pdftotext", &["-layout", path(&self.pdf), path(&out)]);
        std::fs::read_to_string(out).unwrap()
    }

    /// The text in content order, where a name wrapped inside a table cell stays in one piece.
    pub fn raw_text(&self) -> String {
        let out = self.dir.path().join("results-raw.txt");
        run("pdftotext", &["-raw", path(&self.pdf), path(&out)]);
        std::fs::read_to_string(out).unwrap()
    }

    /// `pdffonts`' table of the fonts the PDF uses.
    pub fn fonts(&self) -> String {
        let output = Command::new("pdffonts")
            .arg(path(&self.pdf))
            .output()
            .unwrap_or_else(|e| {
                panic!("pdffonts could not be run ({e}): install poppler-utils (apt-get install -y poppler-utils)")
            });
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    }

    /// Every page as PNG at 80 dpi, in page order.
    pub fn pngs(&self) -> Vec<PathBuf> {
        let prefix = self.dir.path().join("page");
        run(
            "pdftoppm",
            &["-png", "-r", "80", path(&self.pdf), path(&prefix)],
        );
        self.pages("page-", ".png")
    }

    /// Every page as a greyscale image at 80 dpi, in page order.
    pub fn greys(&self) -> Vec<Grey> {
        let prefix = self.dir.path().join("grey");
        run(
            "pdftoppm",
            &["-gray", "-r", "80", path(&self.pdf), path(&prefix)],
        );
        self.pages("grey-", ".pgm")
            .iter()
            .map(|p| Grey::read(p))
            .collect()
    }

    fn pages(&self, prefix: &str, suffix: &str) -> Vec<PathBuf> {
        let mut pages: Vec<(u32, PathBuf)> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter_map(|p| {
                let name = p.file_name()?.to_str()?.to_owned();
                let number = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
                Some((number.parse().ok()?, p))
            })
            .collect();
        pages.sort();
        pages.into_iter().map(|(_, p)| p).collect()
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A greyscale page (binary PGM, as `pdftoppm -gray` writes it).
pub struct Grey {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl Grey {
    fn read(path: &Path) -> Self {
        let bytes = std::fs::read(path).unwrap();
        // Header: "P5", width, height, maxval, each separated by whitespace, then one
        // whitespace byte and the pixels.
        let mut fields = Vec::new();
        let mut i = 0;
        while fields.len() < 4 {
            while bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let start = i;
            while !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            fields.push(std::str::from_utf8(&bytes[start..i]).unwrap().to_owned());
        }
        assert_eq!(fields[0], "P5", "{path:?} is not a binary PGM");
        assert_eq!(fields[3], "255");
        let width: usize = fields[1].parse().unwrap();
        let height: usize = fields[2].parse().unwrap();
        let pixels = bytes[i + 1..].to_vec();
        assert_eq!(pixels.len(), width * height, "{path:?} is truncated");
        Self {
            width,
            height,
            pixels,
        }
    }

    pub fn dark_share(&self) -> f64 {
        let dark = self.pixels.iter().filter(|&&p| p < 128).count();
        dark as f64 / self.pixels.len() as f64
    }

    /// Dark pixels in the columns from `x` to the right edge: anything there has run into
    /// the right margin.
    pub fn dark_right_of(&self, x: usize) -> usize {
        self.pixels
            .chunks(self.width)
            .map(|row| row[x..].iter().filter(|&&p| p < 160).count())
            .sum()
    }
}
