//! A client's answers checked against the definition they answer: every key a question, every
//! value of the question's kind and within its bounds, every required question answered. What
//! passes is what is stored and scored; anything else is refused naming the question, before
//! anything is stored.

use super::definition::{Definition, Question, QuestionKind};
use super::error::AssessmentError;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Answers that fit their definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Answers {
    /// Every answered question's answer, as given (`"opt_a"`, `["a", "b"]`, `42`, `"text"`).
    pub given: Map<String, Value>,
    /// The points of every scored question (0 for an unanswered optional one).
    pub points: BTreeMap<String, f64>,
}

impl Answers {
    /// The answers rules can read (`answers.Q`): every scored question, an unanswered
    /// optional one as nothing chosen (`null`, `[]`) or 0, as the publish-time ranges assume.
    /// Free text is never handed to the rules.
    pub fn for_rules(&self, definition: &Definition) -> Map<String, Value> {
        definition
            .questions()
            .filter(|q| q.kind.is_scored())
            .map(|q| {
                let value = self.given.get(&q.id).cloned().unwrap_or(match q.kind {
                    QuestionKind::MultipleChoice { .. } => Value::Array(Vec::new()),
                    QuestionKind::SingleChoice { .. } => Value::Null,
                    _ => Value::from(0),
                });
                (q.id.clone(), value)
            })
            .collect()
    }

    /// Checks `raw` (a JSON object of answers by question id) against `definition`.
    pub fn check(definition: &Definition, raw: &Value) -> Result<Self, AssessmentError> {
        let Value::Object(raw) = raw else {
            return Err(AssessmentError::answer(
                "answers",
                "send the answers as an object by question",
            ));
        };
        for id in raw.keys() {
            if definition.question(id).is_none() {
                return Err(AssessmentError::answer(
                    id.clone(),
                    "there is no such question",
                ));
            }
        }
        let mut given = Map::new();
        let mut points = BTreeMap::new();
        for question in definition.questions() {
            let fail = |reason: &str| AssessmentError::answer(question.id.clone(), reason);
            let value = raw
                .get(&question.id)
                .filter(|v| !v.is_null() && !is_blank(v));
            let Some(value) = value else {
                if question.required {
                    return Err(fail("this question needs an answer"));
                }
                if question.kind.is_scored() {
                    points.insert(question.id.clone(), 0.0);
                }
                continue;
            };
            let scored = points_of(question, value)?;
            if let Some(p) = scored {
                points.insert(question.id.clone(), p);
            }
            // A number is kept in one form (45, not 45.0), so the same answers always have
            // the same bytes and hash, whoever sent them.
            let kept = match scored {
                Some(n) if question.kind.is_numeric() => normal_number(n),
                _ => value.clone(),
            };
            given.insert(question.id.clone(), kept);
        }
        Ok(Self { given, points })
    }
}

/// The largest magnitude below which every whole number is exact in an `f64` (2^53).
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// `n` as JSON: a whole number as an integer, anything else as it is.
fn normal_number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() <= MAX_EXACT {
        Value::from(n as i64)
    } else {
        Value::from(n)
    }
}

/// The points of `value` as an answer to `question` (`None` for free text), or why it does not
/// fit.
fn points_of(question: &Question, value: &Value) -> Result<Option<f64>, AssessmentError> {
    let fail = |reason: &str| AssessmentError::answer(question.id.clone(), reason);
    match &question.kind {
        QuestionKind::SingleChoice { options } => {
            let id = value.as_str().ok_or_else(|| fail("choose one option"))?;
            let option = options
                .iter()
                .find(|o| o.id == id)
                .ok_or_else(|| fail("that is not one of the options"))?;
            Ok(Some(option.points))
        }
        QuestionKind::MultipleChoice {
            options,
            max_selected,
        } => {
            let chosen = value
                .as_array()
                .ok_or_else(|| fail("choose options from the list"))?;
            let mut seen = BTreeSet::new();
            let mut sum = 0.0;
            for id in chosen {
                let id = id
                    .as_str()
                    .ok_or_else(|| fail("choose options from the list"))?;
                let option = options
                    .iter()
                    .find(|o| o.id == id)
                    .ok_or_else(|| fail("that is not one of the options"))?;
                if !seen.insert(id) {
                    return Err(fail("an option is chosen twice"));
                }
                sum += option.points;
            }
            if let Some(max) = max_selected
                && seen.len() > *max as usize
            {
                return Err(AssessmentError::answer(
                    question.id.clone(),
                    format!("choose at most {max}"),
                ));
            }
            Ok(Some(sum))
        }
        QuestionKind::Number { min, max, whole } => {
            let n = value
                .as_f64()
                .filter(|n| n.is_finite())
                .ok_or_else(|| fail("give a number"))?;
            if n < *min || n > *max {
                return Err(AssessmentError::answer(
                    question.id.clone(),
                    format!("give a number from {min} to {max}"),
                ));
            }
            if *whole && n.fract() != 0.0 {
                return Err(fail("give a whole number"));
            }
            Ok(Some(n))
        }
        QuestionKind::Scale { min, max, .. } => {
            // 7 or 7.0 (a form's number field, a script's arithmetic): the same point.
            let n = value
                .as_i64()
                .or_else(|| {
                    value
                        .as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() <= MAX_EXACT)
                        .map(|f| f as i64)
                })
                .ok_or_else(|| fail("choose a point on the scale"))?;
            if n < *min || n > *max {
                return Err(AssessmentError::answer(
                    question.id.clone(),
                    format!("choose from {min} to {max}"),
                ));
            }
            // At most 100 steps between whole numbers within ±2^53: exact.
            Ok(Some(n as f64))
        }
        QuestionKind::ShortText { max_length } => {
            let text = value
                .as_str()
                .ok_or_else(|| fail("write your answer as text"))?;
            if text.chars().count() > *max_length as usize {
                return Err(AssessmentError::answer(
                    question.id.clone(),
                    format!("at most {max_length} characters"),
                ));
            }
            if cista_types::controls::has_stray_control(text) {
                return Err(fail("remove the control characters"));
            }
            // The advisor's report prints the answer as written: a character no font of the
            // report draws is refused here, named, rather than printed as a box.
            if let Err(e) = cista_types::glyphs::check_printable(text) {
                return Err(AssessmentError::answer(question.id.clone(), e.to_string()));
            }
            Ok(None)
        }
    }
}

/// An empty string or list: not an answer.
fn is_blank(v: &Value) -> bool {
    match v {
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}
