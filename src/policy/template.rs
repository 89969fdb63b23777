//! Rule messages: text with `{{ cel expression }}` placeholders, rendered with the rule's
//! context plus `evidence`. Numbers print with up to three decimals, lists joined by commas.

use cel::{Context, Program, Value};

enum Segment {
    Text(String),
    Expr(Program),
}

pub struct Template(Vec<Segment>);

impl Template {
    pub fn parse(src: &str) -> Result<Self, String> {
        let mut segments = Vec::new();
        let mut rest = src;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                segments.push(Segment::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed {{{{ in {src:?}"))?;
            let expr = after[..end].trim();
            let program = Program::compile(expr)
                .map_err(|e| format!("{{{{ {expr} }}}} does not parse: {e}"))?;
            segments.push(Segment::Expr(program));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest.to_string()));
        }
        Ok(Self(segments))
    }

    pub fn render(&self, ctx: &Context) -> Result<String, String> {
        let mut out = String::new();
        for s in &self.0 {
            match s {
                Segment::Text(t) => out.push_str(t),
                Segment::Expr(p) => {
                    out.push_str(&display(&p.execute(ctx).map_err(|e| e.to_string())?))
                }
            }
        }
        Ok(out)
    }
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => {
            let s = format!("{f:.3}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::List(items) => items.iter().map(display).collect::<Vec<_>>().join(", "),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_expressions_and_rejects_bad_ones() {
        let t = Template::parse("score {{ 0.81234 }} for {{ ['a', 'b'] }} at {{ 2 }} s").unwrap();
        assert_eq!(
            t.render(&Context::default()).unwrap(),
            "score 0.812 for a, b at 2 s"
        );
        assert!(Template::parse("{{ 1 + }}").is_err());
        assert!(Template::parse("{{ open").is_err());
        let missing = Template::parse("{{ nope.name }}").unwrap();
        assert!(missing.render(&Context::default()).is_err());
    }
}
