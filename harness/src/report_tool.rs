//! `report`, the program's command over reports already written:
//! `report matrix` puts several side by side (checks × implementations,
//! Markdown and HTML), `report merge` makes the reports of one run split
//! across machines (`cargo nextest run --partition`, one folder each) into
//! the report one machine would have written.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use serde_json::Value;

use crate::matrix::Column;

#[derive(Debug, Parser)]
#[command(
    name = "report",
    about = "Side-by-side matrices and merges of conformance reports (report.json)"
)]
struct ReportCli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Checks × implementations: one column per report, a cell per check's verdict.
    Matrix {
        /// A report: report.json or the folder holding it, as
        /// `NAME=PATH` to name its column (default: the folder's name).
        #[arg(required = true, value_name = "REPORT")]
        reports: Vec<String>,
        /// Write the Markdown matrix here (`-` for standard output).
        #[arg(long, value_name = "FILE")]
        md: Option<PathBuf>,
        /// Write the HTML matrix here (a self-contained page).
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// The HTML page's title.
        #[arg(long, default_value = "Conformance matrix")]
        title: String,
    },
    /// The reports of one run split across machines, as one report.
    Merge {
        /// The report folders (or report.json files) of each machine.
        #[arg(required = true, value_name = "REPORT")]
        reports: Vec<PathBuf>,
        /// Where to write the merged report.json, report.md and report.html.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Write the merged run as JUnit XML here too.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
}

/// What the command did: the text for standard output, the files written.
pub(crate) struct Done {
    pub stdout: String,
    pub written: Vec<PathBuf>,
}

/// A report's file: the path itself, or report.json in the folder.
fn report_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_owned()
    }
}

/// Reads a report, saying which file could not be read or is no report.
pub fn read_report(path: &Path) -> Result<Value, String> {
    let file = report_file(path);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("failed to read the report {}: {e}", file.display()))?;
    let report: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", file.display()))?;
    if !report["checks"].is_array() || !report["tests"].is_array() {
        return Err(format!(
            "{} is no conformance report (it has no checks and tests)",
            file.display()
        ));
    }
    Ok(report)
}

/// The column `NAME=PATH` or `PATH` names.
fn column(arg: &str) -> Result<Column, String> {
    let (label, path) = match arg.split_once('=') {
        Some((label, path)) if !label.is_empty() && !label.contains('/') => {
            (label.to_owned(), PathBuf::from(path))
        }
        _ => {
            let path = PathBuf::from(arg);
            let folder = if path.is_dir() {
                path.clone()
            } else {
                path.parent().map(Path::to_path_buf).unwrap_or_default()
            };
            let label = folder
                .file_name()
                .map_or_else(|| arg.to_owned(), |n| n.to_string_lossy().into_owned());
            (label, path)
        }
    };
    Ok(Column {
        label,
        report: read_report(&path)?,
    })
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("failed to create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("failed to write {}: {e}", path.display()))
}

/// Runs `report …` (`args` without the program's name and `report`).
pub(crate) fn run(args: Vec<OsString>) -> Result<Result<Done, String>, clap::Error> {
    let cli = ReportCli::try_parse_from(std::iter::once(OsString::from("report")).chain(args))?;
    Ok(match cli.command {
        Command::Matrix {
            reports,
            md,
            html,
            title,
        } => matrix(&reports, md, html, &title),
        Command::Merge {
            reports,
            out,
            junit,
        } => merge(&reports, &out, junit.as_deref()),
    })
}

fn matrix(
    reports: &[String],
    md: Option<PathBuf>,
    html: Option<PathBuf>,
    title: &str,
) -> Result<Done, String> {
    let columns = reports
        .iter()
        .map(|r| column(r))
        .collect::<Result<Vec<_>, _>>()?;
    let mut done = Done {
        stdout: String::new(),
        written: Vec::new(),
    };
    let markdown = crate::matrix::markdown(&columns);
    match &md {
        Some(path) if path.as_os_str() != "-" => {
            write(path, &markdown)?;
            done.written.push(path.clone());
        }
        Some(_) => done.stdout = markdown,
        // Neither file asked for: the Markdown on standard output.
        None if html.is_none() => done.stdout = markdown,
        None => {}
    }
    if let Some(path) = html {
        write(&path, &crate::matrix::html(title, &columns))?;
        done.written.push(path);
    }
    Ok(done)
}

fn merge(reports: &[PathBuf], out: &Path, junit: Option<&Path>) -> Result<Done, String> {
    let read = reports
        .iter()
        .map(|r| read_report(r))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = crate::report::merge_reports(&read)?;
    crate::report::write_files(out, &merged)
        .map_err(|e| format!("failed to write the report to {}: {e}", out.display()))?;
    let mut written: Vec<PathBuf> = ["report.json", "report.md", "report.html"]
        .iter()
        .map(|f| out.join(f))
        .collect();
    if let Some(file) = junit {
        crate::junit::write(file, &merged)
            .map_err(|e| format!("failed to write {}: {e}", file.display()))?;
        written.push(file.to_owned());
    }
    Ok(Done {
        stdout: String::new(),
        written,
    })
}
