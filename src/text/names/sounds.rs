//! Names across scripts: text in another script romanized (the `any_ascii` tables, with a few
//! letters read as the vowels they usually are in names), and sound keys that a name and its
//! transliterations share ("collins", "Коллинз" Kollinz, "كولينز" kwlynz, "コリンズ" korinzu).
//!
//! Two keys. The vowel key keeps where vowels are (one class) and is used for alphabetic
//! scripts, which write vowels (Cyrillic, Greek, Arabic and Hebrew with their vowel letters,
//! Devanagari): "eileen" and "Eylin" are both `alan`. The consonant key drops vowels and is
//! used for kana and Chinese, which add vowels of their own ("korinzu", "ke lin si"), and drops
//! an English final "r" after a vowel ("hopper", ホッパー "hoppa").

/// Letters that `any_ascii` reads as consonants but names use as vowels (Hebrew vav and yod,
/// Arabic waw and ya), letters it spells with two ("Х" Kh, "Χ" Ch) that stand for an English
/// "h", and the small "tsu" that only doubles the next consonant.
fn premap(c: char) -> Option<char> {
    Some(match c {
        'ו' | 'و' | 'ؤ' => 'o',
        'י' | 'ي' | 'ى' | 'ی' | 'ئ' => 'i',
        'א' | 'ע' | 'ا' | 'أ' | 'إ' | 'آ' | 'ء' => 'a',
        'х' | 'Х' | 'χ' | 'Χ' => 'h',
        'ッ' | 'っ' | 'ｯ' => return None,
        _ => c,
    })
}

/// `s` in ASCII letters, lower case, appended to `out` (separators become spaces).
pub(super) fn romanize(s: &str, out: &mut String) {
    for c in s.chars().filter_map(premap) {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        for a in any_ascii::any_ascii_char(c).chars() {
            if a.is_ascii_alphabetic() {
                out.push(a.to_ascii_lowercase());
            } else if !a.is_ascii_alphanumeric() && !out.ends_with(' ') {
                out.push(' ');
            }
        }
    }
}

/// Whether a character is a letter of the Latin script (with or without diacritics).
pub(super) fn latin(c: char) -> bool {
    c.is_ascii_alphabetic()
        || matches!(c, '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}' | '\u{FF21}'..='\u{FF5A}')
}

/// How a sound key treats vowels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Vowels {
    /// One class, kept in place; a final vowel dropped.
    Kept,
    /// Dropped, and a final "r" after a vowel with them.
    Dropped,
}

/// The sound key of an ASCII word (other characters are skipped), appended to `out`;
/// returns how many consonants it holds.
pub(super) fn sound_key(word: &str, vowels: Vowels, out: &mut String) -> usize {
    let start = out.len();
    let b: Vec<u8> = word
        .bytes()
        .filter(u8::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let vowel = |c: u8| matches!(c, b'a' | b'e' | b'i' | b'o' | b'u' | b'y');
    let mut last = 0u8;
    let mut consonants = 0;
    let mut push = |k: u8, out: &mut String| {
        if k != last {
            out.push(k as char);
            consonants += usize::from(k != b'a');
            last = k;
        }
    };
    let end = if vowels == Vowels::Dropped
        && b.len() > 2
        && b[b.len() - 1] == b'r'
        && vowel(b[b.len() - 2])
    {
        b.len() - 1
    } else {
        b.len()
    };
    for (i, &c) in b[..end].iter().enumerate() {
        let next = b.get(i + 1).copied();
        let k = match c {
            b'h' => continue,
            b'c' if matches!(next, Some(b'e' | b'i' | b'y')) => b's',
            b'c' | b'k' | b'q' | b'g' => b'k',
            b'x' => {
                push(b'k', out);
                b's'
            }
            b's' | b'z' | b'j' => b's',
            b'b' | b'p' | b'f' | b'v' | b'w' => b'b',
            b'd' | b't' => b't',
            b'l' | b'r' => b'l',
            b'm' | b'n' => c,
            c if vowel(c) => match vowels {
                Vowels::Kept => b'a',
                Vowels::Dropped => continue,
            },
            _ => continue,
        };
        push(k, out);
    }
    if vowels == Vowels::Kept && out.len() > start + 1 && out.ends_with('a') {
        out.pop();
    }
    consonants
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str, v: Vowels) -> String {
        let mut r = String::new();
        romanize(s, &mut r);
        let mut k = String::new();
        sound_key(&r, v, &mut k);
        k
    }

    #[test]
    fn a_name_and_its_transliterations_share_a_key() {
        for (latin, others) in [
            (
                "eileen",
                &["Эйлин", "Αϊλίν", "آيلين", "איילין", "आइलीन"][..],
            ),
            (
                "collins",
                &["Коллинз", "Κόλινς", "كولينز", "קולינס", "कॉलिन्स"],
            ),
            ("grace", &["Грейс"]),
            ("hopper", &["Хоппер", "Χόπερ"]),
        ] {
            for o in others {
                assert_eq!(key(o, Vowels::Kept), key(latin, Vowels::Kept), "{o}");
            }
        }
        for (latin, others) in [
            ("eileen", &["アイリーン", "艾琳"][..]),
            ("collins", &["コリンズ", "柯林斯"]),
            ("grace", &["グレース", "格蕾丝"]),
            ("hopper", &["ホッパー", "霍珀"]),
        ] {
            for o in others {
                assert_eq!(key(o, Vowels::Dropped), key(latin, Vowels::Dropped), "{o}");
            }
        }
        // Vowels in place tell words apart that consonants alone do not.
        assert_ne!(key("коллега", Vowels::Kept), key("collins", Vowels::Kept));
    }
}
