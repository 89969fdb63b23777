//! Names across scripts: text in another script romanized (the `any_ascii` tables, with the
//! spellings each script uses for sounds English writes otherwise), and sound keys that a name
//! and its transliterations share ("collins", "Коллинз" Kollinz, "كولينز" kwlynz, "コリンズ"
//! korinzu, "柯林斯" kelinsi: all `klns`).
//!
//! The sound key is a consonant skeleton: vowels, "h", "w" and "y" dropped (scripts write
//! them each their own way, abjads and syllabaries not at all, or add their own), consonants
//! folded into classes that transliteration keeps apart ("b p f v", "t d", "k g q", "s z j sh
//! ch", "l r", "m", "n"). A registered name is keyed under each way its spelling may be said
//! ("michael" with a "k" or a "ch", "thomas" with a "t", "smith" with an "s" as Japanese and
//! Chinese write it, "jordan" with or without its "r", "jankowicz" read as Polish), the text
//! under the one reading its script's romanization gives. A second key keeps where vowels are
//! (one class), for short words whose one consonant is too little to go on ("Emma", "Joe").

/// What a character of another script is read as, where `any_ascii` reads it otherwise: vowel
/// letters of abjads (Hebrew vav and yod, Arabic waw and ya), letters it spells with two ("Х"
/// Kh, "Χ" Ch) that stand for an English "h", Devanagari "च" (c) for "ch" and the anusvara (m)
/// for the "n" it is before "s" and "t", signs it spells with an apostrophe (soft and hard
/// signs, the small "tsu" that only doubles the next consonant). `None`: the character is
/// read by `any_ascii`.
fn premap(c: char) -> Option<&'static str> {
    Some(match c {
        'ו' | 'و' | 'ؤ' => "o",
        'י' | 'ي' | 'ى' | 'ی' | 'ئ' => "i",
        'א' | 'ע' | 'ا' | 'أ' | 'إ' | 'آ' | 'ء' | 'ع' | 'ة' => "a",
        'х' | 'Х' | 'χ' | 'Χ' => "h",
        'च' => "ch",
        'छ' => "chh",
        'ं' | 'ँ' => "n",
        'ь' | 'Ь' | 'ъ' | 'Ъ' | 'ッ' | 'っ' | 'ｯ' | '\'' | '׳' | '’' => "",
        _ => return None,
    })
}

/// Two letters of Greek and Hebrew that write one sound of a foreign name: Greek "μπ" b,
/// "ντ" d, "γκ" g ("mb", "nd", "ng" after a vowel: "Τραμπ", "Άντερσον"), "τζ" j, "ου" u;
/// Hebrew "וו" v, "ג׳" j, "ז׳" zh, "צ׳" ch (a geresh after the letter).
fn digraph(a: char, b: char, after_vowel: bool) -> Option<&'static str> {
    let geresh = matches!(b, '\'' | '׳' | '’');
    Some(match (a, b) {
        ('μ', 'π') if after_vowel => "mb",
        ('ν', 'τ') if after_vowel => "nd",
        ('γ', 'κ') if after_vowel => "ng",
        ('μ' | 'Μ', 'π') => "b",
        ('ν' | 'Ν', 'τ') => "d",
        ('γ' | 'Γ', 'κ') => "g",
        ('ו', 'ו') => "v",
        ('τ' | 'Τ', 'ζ') => "j",
        ('ο' | 'Ο', 'υ' | 'ύ') => "u",
        ('ג', _) if geresh => "j",
        ('ז', _) if geresh => "zh",
        ('צ', _) if geresh => "ch",
        _ => return None,
    })
}

fn greek_vowel(c: char) -> bool {
    matches!(
        c.to_lowercase().next(),
        Some('α' | 'ε' | 'η' | 'ι' | 'ο' | 'υ' | 'ω' | 'ά' | 'έ' | 'ή' | 'ί' | 'ό' | 'ύ' | 'ώ')
    )
}

/// Whether `c` is a Han character, whose `any_ascii` reading is a pinyin syllable.
pub(super) fn han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}')
}

/// `s` in ASCII letters, lower case, appended to `out` (separators become spaces). Pinyin
/// initials are written as the sounds they transliterate: "q" and "j" as "j", "x" as "s",
/// "c" as "ts" ("盖茨" Gai-Ci for "Gates").
pub(super) fn romanize(s: &str, out: &mut String) {
    let mut chars = s.chars().peekable();
    let mut after_vowel = false;
    while let Some(c) = chars.next() {
        let vowel_before = std::mem::replace(&mut after_vowel, greek_vowel(c));
        if let Some(d) = chars.peek().and_then(|&n| digraph(c, n, vowel_before)) {
            chars.next();
            out.push_str(d);
            continue;
        }
        if let Some(p) = premap(c) {
            out.push_str(p);
            continue;
        }
        if c.is_ascii() {
            if c.is_ascii_alphabetic() {
                out.push(c.to_ascii_lowercase());
            } else if !out.ends_with(' ') {
                out.push(' ');
            }
            continue;
        }
        let pinyin = han(c);
        for a in any_ascii::any_ascii_char(c).chars() {
            if a.is_ascii_alphabetic() {
                match a.to_ascii_lowercase() {
                    'q' | 'j' if pinyin => out.push('j'),
                    'x' if pinyin => out.push('s'),
                    'c' if pinyin => out.push_str("ts"),
                    a => out.push(a),
                }
            } else if a.is_whitespace() && !out.ends_with(' ') {
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

/// How "ch" is said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ch {
    /// "michael", "christina".
    K,
    /// "charles", and every "ch" of a romanized text (Cyrillic "ч", Devanagari "च", kana "チ").
    S,
    /// German and Polish "ch" ("Gumprich"), which other scripts write as "h" ("Гумприх").
    Silent,
}

/// One way of saying a spelling.
#[derive(Debug, Clone, Copy)]
struct Reading {
    ch: Ch,
    /// "th" as "s" ("smith", スミス "sumisu") rather than "t" ("Смит").
    th_s: bool,
    /// "w" as "v" ("williams", Hindi "विलियम्स" viliyams) rather than a vowel ("Уильямс").
    w_v: bool,
    /// "j" as "y" (Polish, German: "Jankowicz", "Янкович").
    j_y: bool,
    /// "g" before "e", "i", "y" as "j" ("angela", "Анджела").
    g_soft: bool,
    /// An "r" after a vowel and before a consonant or the end is said (not in English as
    /// Japanese and Chinese hear it: "jordan", "ジョーダン" jodan).
    rhotic: bool,
    /// Polish "cz", "sz", "rz" as one sibilant.
    polish: bool,
    /// "l" and "r", "t" and "d", "k" and "g" kept apart, as alphabets write them; kana and
    /// Chinese characters do not.
    fine: bool,
}

/// How romanized text is read: its script's romanization already spells sounds.
const TEXT: Reading = Reading {
    ch: Ch::S,
    th_s: false,
    w_v: false,
    j_y: false,
    g_soft: false,
    rhotic: true,
    polish: false,
    fine: true,
};

fn vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

/// The consonant skeleton of lower-case ASCII letters `b` under reading `r`, appended to
/// `out`; returns how many consonants it holds and where vowels are ([`Sound::vowels`]).
fn skeleton(b: &[u8], r: Reading, out: &mut String) -> Sound {
    let mut last = 0u8;
    let mut consonants = 0;
    let mut vowels = 0u32;
    let mut push = |k: u8, out: &mut String, consonants: &mut usize| {
        if k != last {
            out.push(k as char);
            *consonants += 1;
            last = k;
        }
    };
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut i = 0;
    while i < b.len() {
        let (c, next) = (b[i], at(i + 1));
        i += 1;
        // A sibilant starts at `j`: "s", "z", "j", "sh", "zh", "ch" said as in "charles".
        let sibilant = |j: usize| match at(j) {
            b's' | b'z' | b'j' => true,
            b'c' => at(j + 1) == b'h' && r.ch == Ch::S,
            _ => false,
        };
        let k = match c {
            b'h' | b'w' if !(c == b'w' && r.w_v) => continue,
            b'w' => b'b',
            b'c' if next == b'h' => {
                i += 1;
                match r.ch {
                    Ch::K => b'k',
                    Ch::S => b's',
                    Ch::Silent => continue,
                }
            }
            b'c' if next == b'z' && r.polish => {
                i += 1;
                b's'
            }
            b'c' if matches!(next, b'e' | b'i' | b'y') => b's',
            b'c' if next == b'k' => continue,
            b'c' | b'k' | b'q' => b'k',
            b'g' if b.get(i.wrapping_sub(2)) == Some(&b'n') && !vowel(next) => continue,
            b'g' if r.g_soft && matches!(next, b'e' | b'i' | b'y') => b's',
            b'g' if r.fine => b'g',
            b'g' => b'k',
            b'x' => {
                push(b'k', out, &mut consonants);
                b's'
            }
            b'j' if r.j_y => continue,
            b's' | b'z' | b'j' => b's',
            b'b' | b'p' | b'f' | b'v' => b'b',
            // "dzh", "dj", "tch": the affricate is its sibilant.
            b'd' | b't' if next != b's' && sibilant(i) => continue,
            b't' if next == b'h' => {
                i += 1;
                if r.th_s {
                    b's'
                } else {
                    b't'
                }
            }
            b'd' if r.fine => b'd',
            b'd' | b't' => b't',
            b'r' if r.polish && next == b'z' => {
                i += 1;
                b's'
            }
            b'r' if !r.rhotic && i >= 2 && vowel(b[i - 2]) && !vowel(next) => continue,
            b'r' if r.fine => b'r',
            b'l' | b'r' => b'l',
            b'm' | b'n' => c,
            c if vowel(c) => {
                vowels |= 1 << consonants.min(31);
                continue;
            }
            _ => continue,
        };
        push(k, out, &mut consonants);
    }
    Sound { consonants, vowels }
}

/// What a sound key holds besides its consonants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sound {
    pub(super) consonants: usize,
    /// Bit `i`: a vowel is written after the key's `i`th consonant (bit 0: before the first).
    pub(super) vowels: u32,
}

/// The sound key of romanized text (an ASCII word; other characters are skipped), appended
/// to `out`.
pub(super) fn sound_key(word: &str, fine: bool, out: &mut String) -> Sound {
    let b = letters(word);
    skeleton(&b, Reading { fine, ..TEXT }, out)
}

/// Calls `f` with each sound key of a registered name word (ASCII), once each, with the
/// consonant classes of alphabets (`fine`) or of kana and Chinese.
pub(super) fn name_keys(word: &str, fine: bool, mut f: impl FnMut(&str, Sound)) {
    let b = letters(word);
    let has = |s: &[u8]| b.windows(s.len()).any(|w| w == s);
    let soft_g = b
        .windows(2)
        .any(|w| w[0] == b'g' && matches!(w[1], b'e' | b'i' | b'y'));
    let chs: &[Ch] = if has(b"ch") {
        &[Ch::K, Ch::S, Ch::Silent]
    } else {
        &[Ch::S]
    };
    let both = |on: bool| if on { &[false, true][..] } else { &[false][..] };
    let mut seen: Vec<(String, u32)> = Vec::new();
    let mut key = String::new();
    let mut emit = |r: Reading, seen: &mut Vec<(String, u32)>| {
        key.clear();
        let s = skeleton(&b, r, &mut key);
        if s.consonants > 0 && !seen.iter().any(|(k, v)| *k == key && *v == s.vowels) {
            f(&key, s);
            seen.push((key.clone(), s.vowels));
        }
    };
    // Japanese and Chinese hear English as it is said ("smith" スミス, "jordan" ジョーダン);
    // alphabets write the letters ("Смит", "Джордан").
    let heard = !fine;
    for &ch in chs {
        for &th_s in both(heard && has(b"th")) {
            for &w_v in both(b.contains(&b'w')) {
                for &g_soft in both(soft_g) {
                    for &rhotic in [true, false]
                        .iter()
                        .take(1 + usize::from(heard && has(b"r")))
                    {
                        let r = Reading {
                            ch,
                            th_s,
                            w_v,
                            j_y: false,
                            g_soft,
                            rhotic,
                            polish: false,
                            fine,
                        };
                        emit(r, &mut seen);
                    }
                }
            }
        }
    }
    // Polish and German spelling, as Russian and others write it.
    if b.contains(&b'j') || b.contains(&b'w') || has(b"ch") || has(b"z") {
        let r = Reading {
            ch: Ch::Silent,
            th_s: false,
            w_v: true,
            j_y: true,
            g_soft: false,
            rhotic: true,
            polish: true,
            fine,
        };
        emit(r, &mut seen);
    }
}

fn letters(word: &str) -> Vec<u8> {
    word.bytes()
        .filter(u8::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kana and Chinese are read in their looser classes, other scripts in an alphabet's.
    fn alphabet(s: &str) -> bool {
        !s.chars()
            .any(|c| han(c) || matches!(c, '\u{3040}'..='\u{30FF}'))
    }

    fn text(s: &str) -> (String, Sound) {
        let mut r = String::new();
        romanize(s, &mut r);
        let mut k = String::new();
        let sound = sound_key(&r, alphabet(s), &mut k);
        (k, sound)
    }

    fn names(s: &str, fine: bool) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        name_keys(s, fine, |k, sound| out.push((k.to_string(), sound.vowels)));
        out
    }

    #[test]
    fn a_name_and_its_transliterations_share_a_key() {
        for (latin, others) in [
            (
                "eileen",
                &[
                    "Эйлин",
                    "Αϊλίν",
                    "آيلين",
                    "איילין",
                    "आइलीन",
                    "アイリーン",
                    "艾琳",
                ][..],
            ),
            (
                "collins",
                &[
                    "Коллинз",
                    "Κόλινς",
                    "كولينز",
                    "קולינס",
                    "कॉलिन्स",
                    "コリンズ",
                    "柯林斯",
                ],
            ),
            ("grace", &["Грейс", "グレース", "格蕾丝"]),
            ("hopper", &["Хоппер", "Χόπερ", "ホッパー", "霍珀"]),
            // Greek digraphs, the Hebrew geresh and double vav, the anusvara, soft signs,
            // "dzh".
            ("albert", &["Άλμπερτ", "Альберт"]),
            ("anderson", &["Άντερσον", "एंडरसन"]),
            ("jessica", &["Τζέσικα", "ג'סיקה", "Джессика"]),
            ("david", &["דייוויד"]),
            ("donald", &["Дональд", "Ντόναλντ"]),
            // Readings of the registered spelling: "ch", "th", "w", "r", Polish.
            ("michael", &["Майкл", "マイケル"]),
            ("smith", &["Смит", "スミス"]),
            ("williams", &["Уильямс", "विलियम्स"]),
            ("jordan", &["Джордан", "ジョーダン"]),
            ("jankowicz", &["Янкович"]),
            // Pinyin initials as the sounds they write: "c" ts.
            ("curtis", &["柯蒂斯"]),
        ] {
            for o in others {
                let (k, sound) = text(o);
                let keys = names(latin, alphabet(o));
                assert!(keys.iter().any(|n| n.0 == k), "{o}: {k} not in {keys:?}");
                // Alphabets write no vowel the name lacks; kana and Chinese every one it has.
                let vowels_fit = keys.iter().any(|n| {
                    n.0 == k
                        && if alphabet(o) {
                            sound.vowels & !n.1 == 0
                        } else {
                            n.1 & !sound.vowels == 0
                        }
                });
                assert!(vowels_fit, "{o}: {sound:?} {keys:?}");
            }
        }
        // Alphabets keep "l" and "r", "t" and "d" apart; vowels tell apart what consonants
        // do not.
        let keys = names("collins", true);
        assert!(!keys.iter().any(|n| n.0 == text("коллега").0));
        assert!(!keys.iter().any(|n| n.0 == text("Корнас").0));
        let (k, sound) = text("лиса");
        let west = names("west", true);
        assert!(!west.iter().any(|n| n.0 == k && sound.vowels & !n.1 == 0));
    }
}
