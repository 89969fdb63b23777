//! Word error rate on tests/speech/wer.tsv, spoken by espeak-ng in several voices.
#![allow(dead_code)] // the test and the bench use different parts

use super::speak;

/// espeak-ng voices (Debian 12), taken in turn: American, British RP, Scottish, Caribbean
/// English, and two variants (female, male).
pub const VOICES: [(&str, u32); 6] = [
    ("en-us", 160),
    ("en-gb-x-rp", 150),
    ("en+f3", 150),
    ("en-gb-scotland", 150),
    ("en-us+m3", 160),
    ("en-029", 150),
];

pub struct Line {
    pub person: Option<String>,
    pub text: String,
}

pub fn lines() -> Vec<Line> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/speech/wer.tsv");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (p, t) = l.split_once('\t').expect("person<TAB>sentence");
            Line {
                person: (p != "-").then(|| p.to_string()),
                text: t.to_string(),
            }
        })
        .collect()
}

/// The set spoken: (line, voice, samples).
pub fn spoken() -> Vec<(Line, &'static str, Vec<f32>)> {
    lines()
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let (voice, wpm) = VOICES[i % VOICES.len()];
            let pcm = speak::speak(&l.text, voice, wpm);
            (l, voice, pcm)
        })
        .collect()
}

#[derive(Debug, Default, Clone)]
pub struct Score {
    pub words: usize,
    pub errors: usize,
    pub names: usize,
    pub names_found: usize,
    pub missed: Vec<String>,
}

impl Score {
    pub fn wer(&self) -> f64 {
        self.errors as f64 / self.words.max(1) as f64
    }

    pub fn add(&mut self, line: &Line, heard: &str) {
        let r = normalise(&line.text);
        let h = normalise(heard);
        self.words += r.len();
        self.errors += edit_distance(&r, &h);
        if let Some(p) = &line.person {
            self.names += 1;
            if normalise(heard).join(" ").contains(&normalise(p).join(" ")) {
                self.names_found += 1;
            } else {
                self.missed.push(format!("{p} (heard {heard:?})"));
            }
        }
    }
}

/// Transcribes the spoken set and scores it.
pub fn score(
    hear: impl Fn(&[f32]) -> String,
    set: &[(Line, &str, Vec<f32>)],
) -> (Score, Vec<String>) {
    let mut s = Score::default();
    let mut heard = Vec::new();
    for (line, voice, pcm) in set {
        let text = hear(pcm);
        s.add(line, &text);
        heard.push(format!("[{voice}] {} -> {}", line.text, text.trim()));
    }
    (s, heard)
}

/// Lower case, words only (apostrophes kept inside words), digits spelt out, accents kept.
pub fn normalise(text: &str) -> Vec<String> {
    let cleaned: String = text
        .to_lowercase()
        .replace('%', " percent")
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' {
                c
            } else {
                ' '
            }
        })
        .collect();
    cleaned
        .split_whitespace()
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .flat_map(|w| match w.parse::<u32>() {
            Ok(n) if n < 1000 => number_words(n),
            _ => vec![w.to_string()],
        })
        .collect()
}

fn number_words(n: u32) -> Vec<String> {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = [
        "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    let mut out = Vec::new();
    let (h, rest) = (n / 100, n % 100);
    if h > 0 {
        out.push(ONES[h as usize].to_string());
        out.push("hundred".to_string());
        if rest == 0 {
            return out;
        }
    }
    if rest < 20 {
        out.push(ONES[rest as usize].to_string());
    } else {
        out.push(TENS[(rest / 10) as usize].to_string());
        if rest % 10 > 0 {
            out.push(ONES[(rest % 10) as usize].to_string());
        }
    }
    out
}

/// Word-level Levenshtein distance.
pub fn edit_distance(a: &[String], b: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(x != y))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
