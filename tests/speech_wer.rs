//! Word error rate of the shipped transcriber (fp32 graphs, full audio context) on the English set
//! of tests/speech/wer.tsv, spoken by six espeak-ng voices (synthetic voices, not real people),
//! and the names it gets right. The figures are in docs/speech.md; this test keeps them from
//! getting worse.

#[path = "speech/speak.rs"]
mod speak;
#[path = "speech/wer.rs"]
mod wer;

use clipguard::speech::whisper::AudioContext;

#[test]
fn word_error_rate_and_names() {
    let set = wer::spoken();
    assert!(set.len() >= 50);
    let t = speak::transcriber(AudioContext::Full, None);
    let (score, heard) = wer::score(&t, &set);
    for h in &heard {
        println!("{h}");
    }
    println!(
        "WER {:.1}% ({} errors / {} words); names {}/{}; missed: {:?}",
        100.0 * score.wer(),
        score.errors,
        score.words,
        score.names_found,
        score.names,
        score.missed
    );
    assert!(score.wer() < MAX_WER, "WER {:.3}", score.wer());
    assert!(score.names_found >= MIN_NAMES, "{:?}", score.missed);
}

/// Measured: WER 28.5 % (215 / 754 words), 8 of 17 names (docs/speech.md); a little room.
const MAX_WER: f64 = 0.30;
const MIN_NAMES: usize = 8;

#[test]
fn normalisation_spells_numbers_and_drops_punctuation() {
    assert_eq!(
        wer::normalise("Step one, preheat the oven to 200 degrees!"),
        ["step", "one", "preheat", "the", "oven", "to", "two", "hundred", "degrees"]
    );
    let a = wer::normalise("the cat sat");
    let b = wer::normalise("the bat sat down");
    assert_eq!(wer::edit_distance(&a, &b), 2);
}
