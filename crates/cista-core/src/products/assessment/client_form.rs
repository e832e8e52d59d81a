//! An assessment as the client's browser may see it: the questions, their options and bounds,
//! the purpose to consent to. Never the points, the score rules or the bands: the firm's
//! scoring stays on the server (the seed's promise), so this is the only shape of a definition
//! that leaves it for a widget.

use super::definition::{Definition, QuestionKind};
use serde::Serialize;

/// The questions a client answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientForm {
    pub title: String,
    /// What the client consents to.
    pub purpose: String,
    pub sections: Vec<ClientSection>,
    /// The client may ask for a copy of their result by email (`email_copy` in the answers).
    pub email_copy: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientSection {
    pub title: String,
    pub questions: Vec<ClientQuestion>,
}

/// A question without its scoring. `kind` is the file format's (`single_choice`, …); the other
/// fields are those of that kind, the rest left out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientQuestion {
    pub id: String,
    pub text: String,
    pub required: bool,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<ClientOption>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_selected: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// For numbers: whole numbers only (a scale is always whole).
    pub whole: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub min_label: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub max_label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientOption {
    pub id: String,
    pub label: String,
}

impl ClientQuestion {
    /// Whether the answer is one of several options (radio buttons).
    pub fn is_single(&self) -> bool {
        self.kind == "single_choice"
    }

    pub fn is_multiple(&self) -> bool {
        self.kind == "multiple_choice"
    }

    pub fn is_text(&self) -> bool {
        self.kind == "short_text"
    }

    /// The step of a number input: 1 for whole numbers, any otherwise.
    pub fn step(&self) -> &'static str {
        if self.whole { "1" } else { "any" }
    }
}

impl Definition {
    /// The definition as a client's browser may see it (see the module's documentation).
    pub fn client_form(&self) -> ClientForm {
        ClientForm {
            title: self.title.clone(),
            purpose: self.purpose.clone(),
            email_copy: self.client_sees.email_copy,
            sections: self
                .sections
                .iter()
                .map(|s| ClientSection {
                    title: s.title.clone(),
                    questions: s.questions.iter().map(client_question).collect(),
                })
                .collect(),
        }
    }
}

fn client_question(q: &super::definition::Question) -> ClientQuestion {
    let mut out = ClientQuestion {
        id: q.id.clone(),
        text: q.text.clone(),
        required: q.required,
        kind: "",
        options: q
            .kind
            .options()
            .iter()
            .map(|o| ClientOption {
                id: o.id.clone(),
                label: o.label.clone(),
            })
            .collect(),
        max_selected: None,
        min: None,
        max: None,
        whole: false,
        min_label: String::new(),
        max_label: String::new(),
        max_length: None,
    };
    match &q.kind {
        QuestionKind::SingleChoice { .. } => out.kind = "single_choice",
        QuestionKind::MultipleChoice { max_selected, .. } => {
            out.kind = "multiple_choice";
            out.max_selected = *max_selected;
        }
        QuestionKind::Number { min, max, whole } => {
            out.kind = "number";
            (out.min, out.max, out.whole) = (Some(*min), Some(*max), *whole);
        }
        QuestionKind::Scale {
            min,
            max,
            min_label,
            max_label,
        } => {
            out.kind = "scale";
            (out.min, out.max, out.whole) = (Some(*min as f64), Some(*max as f64), true);
            out.min_label.clone_from(min_label);
            out.max_label.clone_from(max_label);
        }
        QuestionKind::ShortText { max_length } => {
            out.kind = "short_text";
            out.max_length = Some(*max_length);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::super::{Assessment, RISK_PROFILE};

    #[test]
    fn the_client_form_carries_no_scoring() {
        let a = Assessment::parse(&serde_json::from_str(RISK_PROFILE).unwrap()).unwrap();
        let form = a.definition.client_form();
        let text = serde_json::to_string(&form).unwrap();
        for secret in [
            "points",
            "logic",
            "bands",
            "advisor_text",
            "client_text",
            "Conservative",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(form.sections.len(), a.definition.sections.len());
        let horizon = &form.sections[0].questions[0];
        assert!(horizon.is_single());
        assert_eq!(horizon.options[0].label, "Within 3 years");
        assert!(text.contains("\"kind\":\"scale\""));
    }
}
