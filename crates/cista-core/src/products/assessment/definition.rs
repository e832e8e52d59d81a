//! An assessment's definition as a firm writes it (in the admin pages or as a file for
//! `cista assessment import`): the questions in sections, the scoring rules as data, the bands a
//! score falls into, and what the client is shown. `Definition::parse` reads and checks it
//! whole; a definition that passes is immutable once published (the platform's form pipeline
//! versions it). Pure code: no store, no clock.

use super::error::AssessmentError;
use cista_types::WebOrigin;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The longest title, question text, label or purpose accepted, in characters.
pub const MAX_TEXT: usize = 2000;
/// The most questions an assessment may have.
pub const MAX_QUESTIONS: usize = 200;
/// The most options a choice question may have.
pub const MAX_OPTIONS: usize = 50;
/// The longest answer a short-text question may allow, in characters.
pub const MAX_SHORT_TEXT: u32 = 2000;
/// The most sites one assessment may be embedded on.
pub const MAX_ORIGINS: usize = 20;
/// The most computed scores and bands.
pub const MAX_SCORES: usize = 50;
pub const MAX_BANDS: usize = 50;

/// An assessment definition. JSON field names are the file format's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub title: String,
    /// Why the firm asks, shown beside the consent box: the purpose the client consents to.
    pub purpose: String,
    pub sections: Vec<Section>,
    /// Computed scores, in the order they are computed (a score may use those before it).
    pub scores: Vec<ScoreRule>,
    /// The score that places a result in a band, and the bands.
    pub result: ResultBands,
    /// What the client sees after submitting.
    pub client_sees: ClientView,
    /// Where the widget may be used. Without it, nowhere: the form can only be previewed.
    #[serde(default)]
    pub embed: Embedding,
}

/// The sites allowed to embed the widget: each an HTTPS origin (`https://www.example.com`).
/// They become the embed page's `frame-ancestors`, the submit call's CORS answer and the
/// `Origin` check of every widget request; they are part of the published version, so which
/// sites were allowed when is in the form's history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Embedding {
    #[serde(default)]
    pub allowed_origins: Vec<WebOrigin>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub title: String,
    pub questions: Vec<Question>,
}

/// A question. Its kind's fields sit beside `id`, `text` and `required` (the kind refuses any
/// other key, so a misspelt field is reported, not ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// The question's name in answers and rules: `a-z`, `0-9`, `_`, starting with a letter.
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub required: bool,
    #[serde(flatten)]
    pub kind: QuestionKind,
}

/// What a question asks for, and how its answer scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum QuestionKind {
    /// One option; its points are the question's points.
    SingleChoice { options: Vec<ChoiceOption> },
    /// Any number of options (at least one when required, at most `max_selected`); the
    /// points of those chosen add up.
    MultipleChoice {
        options: Vec<ChoiceOption>,
        #[serde(default)]
        max_selected: Option<u32>,
    },
    /// A number from `min` to `max` (whole when `whole`); its value is its points.
    Number {
        min: f64,
        max: f64,
        #[serde(default)]
        whole: bool,
    },
    /// A whole number from `min` to `max` (a Likert scale, say), labelled at its ends; its
    /// value is its points.
    Scale {
        min: i64,
        max: i64,
        #[serde(default)]
        min_label: String,
        #[serde(default)]
        max_label: String,
    },
    /// Free text of at most `max_length` characters; never scored.
    ShortText { max_length: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceOption {
    /// The option's name in answers and rules.
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub points: f64,
}

/// A computed score: a JSONLogic expression over the answers' points (`points.QUESTION`),
/// numeric answers (`answers.QUESTION`) and earlier scores (`scores.SCORE`), rounded half away
/// from zero to `decimals` places.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreRule {
    pub id: String,
    pub label: String,
    pub logic: serde_json::Value,
    #[serde(default = "default_decimals")]
    pub decimals: u8,
}

fn default_decimals() -> u8 {
    2
}

/// The bands of one score: each from `from` (inclusive) to `to` (exclusive; the last one
/// inclusive), together covering every value the score can take, without gaps or overlaps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultBands {
    pub score: String,
    pub bands: Vec<Band>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    pub from: f64,
    pub to: f64,
    pub label: String,
    /// Shown to the client (when the form shows the band).
    pub client_text: String,
    /// In the advisor's report only.
    #[serde(default)]
    pub advisor_text: String,
}

/// The part of the result the client sees; the advisor's report has all of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientView {
    /// The band's label and client text.
    pub band: bool,
    /// These scores' values.
    #[serde(default)]
    pub scores: Vec<String>,
    /// The client may ask to be sent what they were shown by email.
    #[serde(default)]
    pub email_copy: bool,
}

impl QuestionKind {
    /// Whether the answer has points (every kind but short text).
    pub fn is_scored(&self) -> bool {
        !matches!(self, QuestionKind::ShortText { .. })
    }

    /// Whether `answers.ID` is a number for rules (numbers and scales).
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            QuestionKind::Number { .. } | QuestionKind::Scale { .. }
        )
    }

    pub fn options(&self) -> &[ChoiceOption] {
        match self {
            QuestionKind::SingleChoice { options }
            | QuestionKind::MultipleChoice { options, .. } => options,
            _ => &[],
        }
    }
}

impl Definition {
    /// Reads a definition from JSON and checks it whole (structure here, rules in
    /// `scoring::Rules::compile`). Errors name the rule or question and say what to change.
    pub fn parse(json: &serde_json::Value) -> Result<Self, AssessmentError> {
        let definition: Definition = serde_json::from_value(json.clone()).map_err(|e| {
            AssessmentError::rules(
                "the file",
                format!("it is not an assessment definition: {e}"),
            )
        })?;
        definition.check_structure()?;
        Ok(definition)
    }

    /// The scores' labels, in order.
    pub fn score_labels(&self) -> Vec<String> {
        self.scores.iter().map(|s| s.label.clone()).collect()
    }

    /// Every question, in order.
    pub fn questions(&self) -> impl Iterator<Item = &Question> {
        self.sections.iter().flat_map(|s| s.questions.iter())
    }

    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions().find(|q| q.id == id)
    }

    fn check_structure(&self) -> Result<(), AssessmentError> {
        text("title", &self.title, true)?;
        text("purpose", &self.purpose, true)?;
        if self.sections.is_empty() || self.questions().next().is_none() {
            return Err(AssessmentError::rules(
                "sections",
                "add at least one question",
            ));
        }
        if self.questions().count() > MAX_QUESTIONS {
            return Err(AssessmentError::rules(
                "sections",
                format!("an assessment has at most {MAX_QUESTIONS} questions"),
            ));
        }
        let mut ids = BTreeSet::new();
        for section in &self.sections {
            text("section title", &section.title, true)?;
            for question in &section.questions {
                name(&format!("question {}", question.id), &question.id)?;
                if !ids.insert(question.id.as_str()) {
                    return Err(AssessmentError::rules(
                        format!("question {}", question.id),
                        "two questions have this id; give each its own",
                    ));
                }
                check_question(question)?;
            }
        }
        let origins = &self.embed.allowed_origins;
        if origins.len() > MAX_ORIGINS {
            return Err(AssessmentError::rules(
                "embed",
                format!("list at most {MAX_ORIGINS} sites"),
            ));
        }
        if let Some(twice) = origins
            .iter()
            .enumerate()
            .find(|(i, o)| origins.iter().skip(i + 1).any(|other| other == *o))
        {
            return Err(AssessmentError::rules(
                "embed",
                format!("{} is listed twice", twice.1),
            ));
        }
        if self.scores.is_empty() || self.scores.len() > MAX_SCORES {
            return Err(AssessmentError::rules(
                "scores",
                format!("define 1 to {MAX_SCORES} scores"),
            ));
        }
        let mut scores = BTreeSet::new();
        for score in &self.scores {
            let what = format!("score {}", score.id);
            name(&what, &score.id)?;
            text(&what, &score.label, true)?;
            if !scores.insert(score.id.as_str()) {
                return Err(AssessmentError::rules(what, "two scores have this id"));
            }
            if score.decimals > 6 {
                return Err(AssessmentError::rules(what, "round to at most 6 decimals"));
            }
        }
        if !scores.contains(self.result.score.as_str()) {
            return Err(AssessmentError::rules(
                "result",
                format!(
                    "the bands are of score {}, which is not defined",
                    self.result.score
                ),
            ));
        }
        if self.result.bands.is_empty() || self.result.bands.len() > MAX_BANDS {
            return Err(AssessmentError::rules(
                "result",
                format!("define 1 to {MAX_BANDS} bands"),
            ));
        }
        for band in &self.result.bands {
            let what = format!("band {}", band.label);
            text(&what, &band.label, true)?;
            text(&what, &band.client_text, false)?;
            text(&what, &band.advisor_text, false)?;
            if !band.from.is_finite() || !band.to.is_finite() || band.from >= band.to {
                return Err(AssessmentError::rules(
                    what,
                    "a band runs from a number to a larger one",
                ));
            }
        }
        for score in &self.client_sees.scores {
            if !scores.contains(score.as_str()) {
                return Err(AssessmentError::rules(
                    "client_sees",
                    format!("score {score} is not defined"),
                ));
            }
        }
        Ok(())
    }
}

fn check_question(q: &Question) -> Result<(), AssessmentError> {
    let what = format!("question {}", q.id);
    text(&what, &q.text, true)?;
    match &q.kind {
        QuestionKind::SingleChoice { options } | QuestionKind::MultipleChoice { options, .. } => {
            if options.len() < 2 || options.len() > MAX_OPTIONS {
                return Err(AssessmentError::rules(
                    what,
                    format!("a choice question has 2 to {MAX_OPTIONS} options"),
                ));
            }
            let mut ids = BTreeSet::new();
            for option in options {
                name(&format!("{what}, option {}", option.id), &option.id)?;
                text(&what, &option.label, true)?;
                if !ids.insert(option.id.as_str()) {
                    return Err(AssessmentError::rules(
                        what,
                        format!("two options are called {}", option.id),
                    ));
                }
                if !option.points.is_finite() || option.points.abs() > 1e9 {
                    return Err(AssessmentError::rules(
                        what,
                        format!("option {} has no usable points", option.id),
                    ));
                }
            }
            if let QuestionKind::MultipleChoice {
                max_selected: Some(max),
                ..
            } = &q.kind
                && (*max == 0 || *max as usize > options.len())
            {
                return Err(AssessmentError::rules(
                    what,
                    "max_selected is between 1 and the number of options",
                ));
            }
        }
        QuestionKind::Number { min, max, whole } => {
            let bounded = |v: f64| v.is_finite() && v.abs() <= 1e9;
            if !bounded(*min) || !bounded(*max) || min >= max {
                return Err(AssessmentError::rules(
                    what,
                    "a number question has a minimum below its maximum, both within ±1,000,000,000",
                ));
            }
            if *whole && min.ceil() > max.floor() {
                return Err(AssessmentError::rules(
                    what,
                    "no whole number lies between min and max",
                ));
            }
        }
        QuestionKind::Scale { min, max, .. } => {
            if min >= max || max - min > 100 {
                return Err(AssessmentError::rules(
                    what,
                    "a scale runs from a whole number to a larger one, at most 100 steps",
                ));
            }
        }
        QuestionKind::ShortText { max_length } => {
            if *max_length == 0 || *max_length > MAX_SHORT_TEXT {
                return Err(AssessmentError::rules(
                    what,
                    format!("max_length is 1 to {MAX_SHORT_TEXT} characters"),
                ));
            }
        }
    }
    Ok(())
}

/// A question, option or score id: 1 to 64 of `a-z`, `0-9`, `_`, starting with a letter (so
/// it can stand in a rule's variable path).
fn name(what: &str, id: &str) -> Result<(), AssessmentError> {
    if crate::platform::intake::is_form_id(id) {
        Ok(())
    } else {
        Err(AssessmentError::rules(
            what,
            "an id is 1 to 64 lower-case letters, digits or _, starting with a letter",
        ))
    }
}

/// Text the firm wrote: present when `required`, at most `MAX_TEXT` characters, no control
/// characters but line breaks and tabs, every character one the report's fonts draw.
fn text(what: &str, value: &str, required: bool) -> Result<(), AssessmentError> {
    match crate::platform::intake::form_text_problem(value, required, MAX_TEXT) {
        Some(reason) => Err(AssessmentError::rules(what, reason)),
        None => Ok(()),
    }
}
