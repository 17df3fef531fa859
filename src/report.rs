//! A self-contained HTML report of a notebook run, pictures embedded.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;

/// Error while assembling or writing the report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A picture the report embeds could not be read.
    #[error("cannot read picture {path} for the report: {source}")]
    ReadPicture {
        /// The picture's path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The report file could not be written.
    #[error("cannot write report {path}: {source}")]
    Write {
        /// The report's path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// One block of the report, in the order the notebook shows them.
#[derive(Debug, Clone)]
enum Block {
    Heading(String),
    Code(String),
    Output(String),
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    Picture {
        caption: String,
        png: Vec<u8>,
    },
}

/// A notebook-like report: code cells, their printed output, tables and pictures.
#[derive(Debug, Clone, Default)]
pub struct Report {
    title: String,
    blocks: Vec<Block>,
}

impl Report {
    /// Creates an empty report with a page title.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    /// Adds a section heading.
    pub fn heading(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Heading(text.into()));
    }

    /// Adds the fastai call a step reproduces, shown as a code cell.
    pub fn code(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Code(text.into()));
    }

    /// Adds printed output.
    pub fn output(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Output(text.into()));
    }

    /// Adds a table, such as the epoch table of a `fit`.
    pub fn table(&mut self, header: Vec<String>, rows: Vec<Vec<String>>) {
        self.blocks.push(Block::Table { header, rows });
    }

    /// Embeds the PNG at `path`, read now so the report does not depend on the file later.
    pub fn picture(&mut self, caption: impl Into<String>, path: &Path) -> Result<(), ReportError> {
        let png = fs::read(path).map_err(|source| ReportError::ReadPicture {
            path: path.to_path_buf(),
            source,
        })?;
        self.blocks.push(Block::Picture {
            caption: caption.into(),
            png,
        });
        Ok(())
    }

    /// Renders the report as one HTML page.
    pub fn to_html(&self) -> String {
        let mut html = String::new();
        let title = escape(&self.title);
        let _ = write!(
            html,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
        );

        for block in &self.blocks {
            match block {
                Block::Heading(text) => {
                    let _ = writeln!(html, "<h2>{}</h2>", escape(text));
                }
                Block::Code(text) => {
                    let _ = writeln!(html, "<pre class=\"code\">{}</pre>", escape(text));
                }
                Block::Output(text) => {
                    let _ = writeln!(html, "<pre class=\"output\">{}</pre>", escape(text));
                }
                Block::Table { header, rows } => render_table(&mut html, header, rows),
                Block::Picture { caption, png } => {
                    let data = base64::engine::general_purpose::STANDARD.encode(png);
                    let caption = escape(caption);
                    let _ = writeln!(
                        html,
                        "<figure><img alt=\"{caption}\" src=\"data:image/png;base64,{data}\">\
                         <figcaption>{caption}</figcaption></figure>"
                    );
                }
            }
        }

        html.push_str("</body>\n</html>\n");
        html
    }

    /// Writes the report to `path` through a temporary file, so a crash never leaves half a page.
    pub fn write(&self, path: &Path) -> Result<(), ReportError> {
        let write_error = |source| ReportError::Write {
            path: path.to_path_buf(),
            source,
        };
        fastburn_data::write_atomic(path, self.to_html().as_bytes()).map_err(write_error)
    }
}

const STYLE: &str = "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}\
pre{padding:.6em;overflow-x:auto}pre.code{background:#f3f3f8;border-left:3px solid #88a}\
pre.output{background:#fff;border-left:3px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}\
img{max-width:100%}figure{margin:1em 0}figcaption{color:#555;font-size:90%}";

fn render_table(html: &mut String, header: &[String], rows: &[Vec<String>]) {
    html.push_str("<table>\n<tr>");
    for cell in header {
        let _ = write!(html, "<th>{}</th>", escape(cell));
    }
    html.push_str("</tr>\n");
    for row in rows {
        html.push_str("<tr>");
        for cell in row {
            let _ = write!(html, "<td>{}</td>", escape(cell));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n");
}

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_in_text() {
        let mut report = Report::new("a <b> & \"c\"");
        report.output("<script>alert(1)</script>");
        let html = report.to_html();
        assert!(html.contains("<title>a &lt;b&gt; &amp; &quot;c&quot;</title>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn embeds_picture_as_base64() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.png");
        fs::write(&path, [0x89, b'P', b'N', b'G']).unwrap();
        let mut report = Report::new("t");
        report.picture("cap", &path).unwrap();
        assert!(report.to_html().contains("src=\"data:image/png;base64,iVBORw==\""));
    }

    #[test]
    fn missing_picture_names_path() {
        let mut report = Report::new("t");
        let error = report.picture("cap", Path::new("/no/such.png")).unwrap_err();
        assert!(error.to_string().contains("/no/such.png"), "{error}");
    }

    #[test]
    fn table_rows_render_in_order() {
        let mut report = Report::new("t");
        report.table(
            vec!["epoch".into(), "accuracy".into()],
            vec![vec!["0".into(), "0.5".into()], vec!["1".into(), "0.9".into()]],
        );
        let html = report.to_html();
        let first = html.find("<td>0.5</td>").unwrap();
        let second = html.find("<td>0.9</td>").unwrap();
        assert!(first < second);
        assert!(html.contains("<th>epoch</th><th>accuracy</th>"));
    }

    #[test]
    fn write_leaves_complete_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.html");
        let mut report = Report::new("run");
        report.heading("Data");
        report.write(&path).unwrap();
        let html = fs::read_to_string(&path).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.trim_end().ends_with("</html>"));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
