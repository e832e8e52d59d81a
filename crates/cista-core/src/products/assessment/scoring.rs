//! Server-side scoring. A definition's rules are checked once, when it is published: every
//! score's expression is JSONLogic (evaluated by datalogic-rs: sandboxed, no loops, no I/O)
//! restricted to arithmetic (`+ - * / min max`), `if` and comparisons, over the answers'
//! points, the numeric answers and the scores before it. Interval arithmetic over the
//! questions' bounds gives each score the range of values it can take, which refuses a
//! division that could be by zero and bands that leave part of the range uncovered or
//! overlap. Scoring then is total: answers that passed `Answers::check` always give a score
//! in its range and exactly one band.

use super::definition::{Band, Definition, QuestionKind};
use super::error::AssessmentError;
use datalogic_rs::{Engine, Logic};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The largest score, either side of zero, a rule may be able to produce.
pub const MAX_SCORE: f64 = 1e12;

/// The values a score can take: from `lo` to `hi`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Range {
    pub lo: f64,
    pub hi: f64,
}

impl Range {
    fn point(v: f64) -> Self {
        Self { lo: v, hi: v }
    }

    fn hull(self, other: Range) -> Self {
        Self {
            lo: self.lo.min(other.lo),
            hi: self.hi.max(other.hi),
        }
    }

    fn add(self, o: Range) -> Self {
        Self {
            lo: self.lo + o.lo,
            hi: self.hi + o.hi,
        }
    }

    fn neg(self) -> Self {
        Self {
            lo: -self.hi,
            hi: -self.lo,
        }
    }

    fn mul(self, o: Range) -> Self {
        let products = [
            self.lo * o.lo,
            self.lo * o.hi,
            self.hi * o.lo,
            self.hi * o.hi,
        ];
        Self {
            lo: products.iter().copied().fold(f64::INFINITY, f64::min),
            hi: products.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }

    /// Whether `v` lies in the range.
    pub fn contains(self, v: f64) -> bool {
        self.lo <= v && v <= self.hi
    }
}

/// A score and the band its result falls in, computed for one set of answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    /// Every score, by id, in definition order, rounded as its rule says.
    pub scores: Vec<(String, f64)>,
    /// The index of the band in `Definition::result.bands`.
    pub band: usize,
}

/// A definition's scoring rules, checked and compiled. Build with `Rules::compile`.
pub struct Rules {
    engine: Engine,
    compiled: Vec<(String, u8, Logic)>,
    ranges: BTreeMap<String, Range>,
    banded: String,
    bands: Vec<Band>,
}

impl std::fmt::Debug for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rules")
            .field("scores", &self.ranges)
            .field("banded", &self.banded)
            .finish_non_exhaustive()
    }
}

/// What a rule may refer to, and the range of each.
struct Env<'a> {
    definition: &'a Definition,
    /// Scores computed before the one being checked.
    scores: &'a BTreeMap<String, Range>,
    /// The score being checked, for messages.
    rule: &'a str,
}

impl Env<'_> {
    fn fail(&self, reason: impl Into<String>) -> AssessmentError {
        AssessmentError::rules(format!("score {}", self.rule), reason)
    }

    /// The range of a variable path: `points.Q`, `answers.Q` (numeric questions) or
    /// `scores.S` (an earlier score).
    fn var(&self, path: &str) -> Result<Range, AssessmentError> {
        let (kind, name) = path.split_once('.').unwrap_or((path, ""));
        match kind {
            "points" | "answers" => {
                let question = self
                    .definition
                    .question(name)
                    .ok_or_else(|| self.fail(format!("there is no question {name}")))?;
                if kind == "answers" && !question.kind.is_numeric() {
                    return Err(self.fail(format!(
                        "answers.{name} is not a number; use points.{name}"
                    )));
                }
                if !question.kind.is_scored() {
                    return Err(self.fail(format!("question {name} is free text and has no points")));
                }
                let range = points_range(&question.kind);
                // An unanswered optional question counts 0.
                Ok(if question.required {
                    range
                } else {
                    range.hull(Range::point(0.0))
                })
            }
            "scores" => self.scores.get(name).copied().ok_or_else(|| {
                self.fail(format!(
                    "score {name} is not computed before this one (scores are computed in order)"
                ))
            }),
            _ => Err(self.fail(format!(
                "{path} is not something a score can use: use points.QUESTION, answers.QUESTION or scores.SCORE"
            ))),
        }
    }

    /// The range of a numeric expression.
    fn number(&self, expr: &Value) -> Result<Range, AssessmentError> {
        match expr {
            Value::Number(n) => n
                .as_f64()
                .filter(|v| v.is_finite())
                .map(Range::point)
                .ok_or_else(|| self.fail("a number is out of range")),
            Value::Object(map) if map.len() == 1 => {
                let Some((op, args)) = map.iter().next() else {
                    return Err(self.fail("an empty expression"));
                };
                let args: Vec<&Value> = match args {
                    Value::Array(items) => items.iter().collect(),
                    single => vec![single],
                };
                self.operation(op, &args)
            }
            other => Err(self.fail(format!(
                "{other} is not a number or an arithmetic expression"
            ))),
        }
    }

    fn operation(&self, op: &str, args: &[&Value]) -> Result<Range, AssessmentError> {
        let ranges = || -> Result<Vec<Range>, AssessmentError> {
            args.iter().map(|a| self.number(a)).collect()
        };
        match op {
            "var" => {
                let path = args
                    .first()
                    .and_then(|p| p.as_str())
                    .ok_or_else(|| self.fail("var takes a path such as \"points.q1\""))?;
                let range = self.var(path)?;
                match args.get(1) {
                    Some(default) => Ok(range.hull(self.number(default)?)),
                    None => Ok(range),
                }
            }
            "+" if !args.is_empty() => Ok(ranges()?
                .into_iter()
                .reduce(Range::add)
                .unwrap_or(Range::point(0.0))),
            "*" if !args.is_empty() => Ok(ranges()?
                .into_iter()
                .reduce(Range::mul)
                .unwrap_or(Range::point(1.0))),
            "-" => match ranges()?.as_slice() {
                [a] => Ok(a.neg()),
                [a, b] => Ok(a.add(b.neg())),
                _ => Err(self.fail("- takes one or two numbers")),
            },
            "/" => match ranges()?.as_slice() {
                [a, b] => {
                    if b.contains(0.0) {
                        return Err(self.fail(format!(
                            "division by zero: the divisor {} can be 0 (it runs from {} to {})",
                            args.get(1).map_or(String::new(), |d| d.to_string()),
                            b.lo,
                            b.hi
                        )));
                    }
                    Ok(a.mul(Range {
                        lo: 1.0 / b.hi,
                        hi: 1.0 / b.lo,
                    }))
                }
                _ => Err(self.fail("/ takes two numbers")),
            },
            "min" | "max" if !args.is_empty() => {
                let all = ranges()?;
                let pick = |f: fn(f64, f64) -> f64, g: fn(&Range) -> f64| {
                    all.iter().map(g).reduce(f).unwrap_or(0.0)
                };
                Ok(if op == "min" {
                    Range {
                        lo: pick(f64::min, |r| r.lo),
                        hi: pick(f64::min, |r| r.hi),
                    }
                } else {
                    Range {
                        lo: pick(f64::max, |r| r.lo),
                        hi: pick(f64::max, |r| r.hi),
                    }
                })
            }
            "if" => {
                // [cond, then, cond, then, …, else]: the result is one of the branches.
                if args.len() < 3 || args.len().is_multiple_of(2) {
                    return Err(self.fail(
                        "if takes a condition, a value, and a value for otherwise (a score is always a number)",
                    ));
                }
                let mut result: Option<Range> = None;
                for (i, arg) in args.iter().enumerate() {
                    let is_condition = i % 2 == 0 && i + 1 < args.len();
                    if is_condition {
                        self.condition(arg)?;
                    } else {
                        let r = self.number(arg)?;
                        result = Some(result.map_or(r, |acc| acc.hull(r)));
                    }
                }
                result.ok_or_else(|| self.fail("if has no value"))
            }
            _ => Err(self.fail(format!(
                "{op} is not allowed in a score: use numbers, var, + - * /, min, max and if"
            ))),
        }
    }

    /// Checks a condition of an `if`: comparisons of numbers, a choice answer compared with
    /// one of its options, `in` for an option of a multiple-choice answer, and `and`, `or`,
    /// `!` of conditions.
    fn condition(&self, expr: &Value) -> Result<(), AssessmentError> {
        let Value::Object(map) = expr else {
            return match expr {
                Value::Bool(_) => Ok(()),
                other => Err(self.fail(format!("{other} is not a condition"))),
            };
        };
        let Some((op, args)) = map.iter().next().filter(|_| map.len() == 1) else {
            return Err(self.fail("a condition has one operator"));
        };
        let args: Vec<&Value> = match args {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        match op.as_str() {
            "and" | "or" if !args.is_empty() => args.iter().try_for_each(|a| self.condition(a)),
            "!" if args.len() == 1 => args.iter().try_for_each(|a| self.condition(a)),
            "<" | "<=" | ">" | ">=" if args.len() == 2 || args.len() == 3 => {
                args.iter().try_for_each(|a| self.number(a).map(|_| ()))
            }
            "==" | "!=" | "===" | "!==" => {
                let [a, b] = args.as_slice() else {
                    return Err(self.fail(format!("{op} compares two things")));
                };
                match (self.choice_answer(a)?, self.choice_answer(b)?) {
                    (Some(options), None) => self.option_literal(&options, b),
                    (None, Some(options)) => self.option_literal(&options, a),
                    (None, None) => args.iter().try_for_each(|a| self.number(a).map(|_| ())),
                    (Some(_), Some(_)) => Err(self.fail("compare an answer with an option")),
                }
            }
            "in" => match args.as_slice() {
                [option, answer] => match self.choice_answer(answer)? {
                    Some(options) => self.option_literal(&options, option),
                    None => Err(self.fail("in checks an option against a choice answer")),
                },
                _ => Err(self.fail("in takes an option and a choice answer")),
            },
            _ => Err(self.fail(format!(
                "{op} is not allowed in a condition: use < <= > >= == != in and or !"
            ))),
        }
    }

    /// The options of a choice question when `expr` is `{"var": "answers.Q"}` for one.
    fn choice_answer(&self, expr: &Value) -> Result<Option<Vec<String>>, AssessmentError> {
        let Some(path) = expr
            .get("var")
            .and_then(|v| v.as_str().or_else(|| v.get(0)?.as_str()))
        else {
            return Ok(None);
        };
        let Some(name) = path.strip_prefix("answers.") else {
            return Ok(None);
        };
        let question = self
            .definition
            .question(name)
            .ok_or_else(|| self.fail(format!("there is no question {name}")))?;
        let options = question.kind.options();
        Ok((!options.is_empty()).then(|| options.iter().map(|o| o.id.clone()).collect()))
    }

    fn option_literal(&self, options: &[String], expr: &Value) -> Result<(), AssessmentError> {
        match expr.as_str() {
            Some(id) if options.iter().any(|o| o == id) => Ok(()),
            Some(id) => Err(self.fail(format!("{id} is not one of the question's options"))),
            None => Err(self.fail("compare a choice answer with an option id in quotes")),
        }
    }
}

/// The points a question's answer can have.
fn points_range(kind: &QuestionKind) -> Range {
    match kind {
        QuestionKind::SingleChoice { options } => options
            .iter()
            .map(|o| Range::point(o.points))
            .reduce(Range::hull)
            .unwrap_or(Range::point(0.0)),
        QuestionKind::MultipleChoice {
            options,
            max_selected,
        } => {
            // Any allowed subset: at the least the most negative points (as many as may be
            // chosen), at the most the most positive.
            let k = max_selected.map_or(options.len(), |m| m as usize);
            let mut negative: Vec<f64> = options.iter().map(|o| o.points.min(0.0)).collect();
            let mut positive: Vec<f64> = options.iter().map(|o| o.points.max(0.0)).collect();
            negative.sort_by(f64::total_cmp);
            positive.sort_by(|a, b| b.total_cmp(a));
            Range {
                lo: negative.iter().take(k).sum(),
                hi: positive.iter().take(k).sum(),
            }
        }
        QuestionKind::Number { min, max, .. } => Range { lo: *min, hi: *max },
        // Scales are at most 100 steps between whole numbers: exact in f64.
        QuestionKind::Scale { min, max, .. } => Range {
            lo: *min as f64,
            hi: *max as f64,
        },
        QuestionKind::ShortText { .. } => Range::point(0.0),
    }
}

/// `v` rounded half away from zero to `decimals` places.
pub fn round(v: f64, decimals: u8) -> f64 {
    let scale = 10f64.powi(i32::from(decimals));
    (v * scale).round() / scale
}

impl Rules {
    /// Checks every score rule of `definition` and compiles it. A rule that names an unknown
    /// question or a later score, uses an operator outside the arithmetic subset, may divide
    /// by zero, or bands that leave a value of the banded score without exactly one band:
    /// refused, naming the rule.
    pub fn compile(definition: &Definition) -> Result<Self, AssessmentError> {
        let engine = Engine::new();
        let mut ranges = BTreeMap::new();
        let mut compiled = Vec::with_capacity(definition.scores.len());
        for rule in &definition.scores {
            let env = Env {
                definition,
                scores: &ranges,
                rule: &rule.id,
            };
            let range = env.number(&rule.logic)?;
            // Beyond this a score loses the exactness rounding and bands rely on (and an
            // overflowing range would compare as nothing at all).
            for end in [range.lo, range.hi] {
                if !end.is_finite() || end.abs() > MAX_SCORE {
                    return Err(env.fail(format!(
                        "the score can reach {end:e}; keep scores within ±1,000,000,000,000"
                    )));
                }
            }
            // Rounding can move the ends outwards by half a unit of the last place.
            let range = Range {
                lo: round(range.lo, rule.decimals),
                hi: round(range.hi, rule.decimals),
            };
            let logic = engine
                .compile(rule.logic.to_string().as_str())
                .map_err(|e| env.fail(format!("the expression does not compile: {e}")))?;
            ranges.insert(rule.id.clone(), range);
            compiled.push((rule.id.clone(), rule.decimals, logic));
        }
        let banded = definition.result.score.clone();
        let range = ranges
            .get(&banded)
            .copied()
            .ok_or_else(|| AssessmentError::rules("result", format!("no score {banded}")))?;
        check_bands(&definition.result.bands, range)?;
        Ok(Self {
            engine,
            compiled,
            ranges,
            banded,
            bands: definition.result.bands.clone(),
        })
    }

    /// The range each score can take, by id.
    pub fn ranges(&self) -> &BTreeMap<String, Range> {
        &self.ranges
    }

    /// Scores checked answers (see `super::answers`): `points` and numeric `values` by
    /// question id, every scored question present (0 for an unanswered optional one).
    pub fn score(
        &self,
        points: &BTreeMap<String, f64>,
        answers: &Map<String, Value>,
    ) -> Result<Scored, AssessmentError> {
        let mut data = json!({ "points": points, "answers": answers, "scores": {} });
        let mut scores = Vec::with_capacity(self.compiled.len());
        let mut session = self.engine.session();
        for (id, decimals, logic) in &self.compiled {
            let out = session
                .eval_str(logic, &data.to_string())
                .map_err(|e| AssessmentError::rules(format!("score {id}"), e.to_string()));
            session.reset();
            let value = out?
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    AssessmentError::rules(format!("score {id}"), "did not give a number")
                })?;
            let value = round(value, *decimals);
            if let Some(scores) = data.get_mut("scores").and_then(Value::as_object_mut) {
                scores.insert(id.clone(), json!(value));
            }
            scores.push((id.clone(), value));
        }
        let value = scores
            .iter()
            .find(|(id, _)| *id == self.banded)
            .map_or(f64::NAN, |(_, v)| *v);
        let band = band_of(&self.bands, value).ok_or_else(|| {
            AssessmentError::rules("result", format!("no band holds the score {value}"))
        })?;
        Ok(Scored { scores, band })
    }
}

/// The band holding `value`: `from <= value < to`, the last band's `to` included.
pub fn band_of(bands: &[Band], value: f64) -> Option<usize> {
    let last = bands.len().checked_sub(1)?;
    bands
        .iter()
        .position(|b| b.from <= value && value < b.to)
        .or_else(|| {
            bands
                .get(last)
                .filter(|b| b.from <= value && value <= b.to)
                .map(|_| last)
        })
}

/// Bands in ascending order, each starting where the one before ends, the first at or below
/// the score's least value and the last at or above its greatest.
fn check_bands(bands: &[Band], range: Range) -> Result<(), AssessmentError> {
    let fail = |reason: String| AssessmentError::rules("result", reason);
    let (Some(first), Some(last)) = (bands.first(), bands.last()) else {
        return Err(fail("define at least one band".to_owned()));
    };
    for pair in bands.windows(2) {
        if let [a, b] = pair {
            if b.from < a.to {
                return Err(fail(format!(
                    "bands {} and {} overlap: {} starts at {} before {} ends at {}",
                    a.label, b.label, b.label, b.from, a.label, a.to
                )));
            }
            if b.from > a.to {
                return Err(fail(format!(
                    "no band holds scores from {} to {}: between {} and {}",
                    a.to, b.from, a.label, b.label
                )));
            }
        }
    }
    if first.from > range.lo {
        return Err(fail(format!(
            "the score can be {} but the first band ({}) starts at {}",
            range.lo, first.label, first.from
        )));
    }
    if last.to < range.hi {
        return Err(fail(format!(
            "the score can be {} but the last band ({}) ends at {}",
            range.hi, last.label, last.to
        )));
    }
    Ok(())
}
