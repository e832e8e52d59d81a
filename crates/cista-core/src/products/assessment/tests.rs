#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::*;
use proptest::prelude::*;
use serde_json::{Value, json};

fn risk_profile() -> Assessment {
    Assessment::parse(&serde_json::from_str(RISK_PROFILE).unwrap()).unwrap()
}

/// A definition whose one score is the answer to a number question, with bands 0–10, 10–20,
/// 20–30: every band edge can be hit exactly.
fn edges(decimals: u8) -> Value {
    json!({
        "title": "Edges",
        "purpose": "Testing band edges.",
        "sections": [{ "title": "One", "questions": [
            { "id": "n", "text": "A number", "required": true, "kind": "number", "min": 0, "max": 30 }
        ]}],
        "scores": [{ "id": "s", "label": "S", "logic": { "var": "points.n" }, "decimals": decimals }],
        "result": { "score": "s", "bands": [
            { "from": 0, "to": 10, "label": "Low", "client_text": "low" },
            { "from": 10, "to": 20, "label": "Middle", "client_text": "middle" },
            { "from": 20, "to": 30, "label": "High", "client_text": "high" }
        ]},
        "client_sees": { "band": true }
    })
}

/// `definition` with `path` (a JSON pointer) set to `value`.
fn with(mut definition: Value, path: &str, value: Value) -> Value {
    *definition.pointer_mut(path).unwrap() = value;
    definition
}

fn refusal(definition: Value) -> String {
    match Assessment::parse(&definition) {
        Ok(_) => panic!("accepted"),
        Err(e) => {
            assert_eq!(e.code(), "rules_invalid");
            e.to_string()
        }
    }
}

#[test]
fn the_demo_risk_profile_is_valid_and_its_scores_have_the_ranges_they_were_built_for() {
    let a = risk_profile();
    assert_eq!(a.definition.questions().count(), 10);
    let r = a.rules.ranges();
    assert_eq!((r["capacity"].lo, r["capacity"].hi), (0.0, 13.0));
    // Comfort is 1 to 10, halved; at most two goals: 3 + 2.
    assert_eq!((r["tolerance"].lo, r["tolerance"].hi), (0.5, 16.0));
    assert_eq!((r["risk"].lo, r["risk"].hi), (2.0, 100.0));
}

#[test]
fn answers_are_scored_on_the_server_into_one_band() {
    let a = risk_profile();
    let (answers, scored) = a
        .evaluate(&json!({
            "horizon": "over_7", "income": "steady", "reserve": "over_3", "age": 45,
            "drop": "hold", "experience": "some", "goals": ["growth", "income"], "comfort": 7,
            "notes": "Call after 5 pm."
        }))
        .unwrap();
    // capacity 4 + 2 + 2 + 2 = 10; tolerance 3 + 1 + 3 + 3.5 = 10.5; risk 100 × 20.5 / 29.
    assert_eq!(
        scored.scores,
        vec![
            ("capacity".to_owned(), 10.0),
            ("tolerance".to_owned(), 10.5),
            ("risk".to_owned(), 71.0)
        ]
    );
    assert_eq!(a.definition.result.bands[scored.band].label, "Growth");
    // The free text is kept with the answers but never handed to the rules.
    assert_eq!(answers.given["notes"], json!("Call after 5 pm."));
    assert!(!answers.for_rules(&a.definition).contains_key("notes"));
    // An optional number left out counts 0.
    assert_eq!(answers.points["share"], 0.0);
}

#[test]
fn every_band_edge_falls_in_the_band_that_starts_there() {
    let a = Assessment::parse(&edges(2)).unwrap();
    for (n, band) in [
        (0.0, "Low"),
        (9.99, "Low"),
        (10.0, "Middle"),
        (19.99, "Middle"),
        (20.0, "High"),
        (29.99, "High"),
        // The last band includes its end.
        (30.0, "High"),
    ] {
        let (_, scored) = a.evaluate(&json!({ "n": n })).unwrap();
        assert_eq!(a.definition.result.bands[scored.band].label, band, "{n}");
    }
    // Rounding comes first: 9.996 is 10.00 with two decimals, so Middle.
    let (_, scored) = a.evaluate(&json!({ "n": 9.996 })).unwrap();
    assert_eq!(scored.scores[0].1, 10.0);
    assert_eq!(a.definition.result.bands[scored.band].label, "Middle");
    // With no decimals, 9.5 rounds away from zero to 10.
    let a = Assessment::parse(&edges(0)).unwrap();
    let (_, scored) = a.evaluate(&json!({ "n": 9.5 })).unwrap();
    assert_eq!(a.definition.result.bands[scored.band].label, "Middle");
}

#[test]
fn rules_that_do_not_hold_are_refused_naming_the_rule() {
    let cases: Vec<(Value, &str)> = vec![
        (
            with(edges(2), "/scores/0/logic", json!({ "var": "points.nope" })),
            "score s: there is no question nope",
        ),
        (
            with(
                edges(2),
                "/scores/0/logic",
                json!({ "/": [10, { "var": "points.n" }] }),
            ),
            "score s: division by zero",
        ),
        (
            with(
                edges(2),
                "/scores/0/logic",
                json!({ "/": [10, { "-": [{ "var": "points.n" }, 5] }] }),
            ),
            "can be 0 (it runs from -5 to 25)",
        ),
        (
            with(edges(2), "/result/bands/1/from", json!(8)),
            "result: bands Low and Middle overlap",
        ),
        (
            with(edges(2), "/result/bands/1/from", json!(12)),
            "result: no band holds scores from 10 to 12",
        ),
        (
            with(edges(2), "/result/bands/2/to", json!(25)),
            "the score can be 30 but the last band (High) ends at 25",
        ),
        (
            with(edges(2), "/result/bands/0/from", json!(1)),
            "the score can be 0 but the first band (Low) starts at 1",
        ),
        (
            with(edges(2), "/scores/0/logic", json!({ "var": "scores.s" })),
            "score s is not computed before this one",
        ),
        (
            with(
                edges(2),
                "/scores/0/logic",
                json!({ "map": [[1], { "var": "" }] }),
            ),
            "map is not allowed in a score",
        ),
        (
            with(
                edges(2),
                "/scores/0/logic",
                json!({ "if": [{ ">": [{ "var": "points.n" }, 3] }, 1] }),
            ),
            "a value for otherwise",
        ),
        (
            with(edges(2), "/result/score", json!("other")),
            "result: the bands are of score other, which is not defined",
        ),
        (
            with(edges(2), "/sections/0/questions/0/max", json!(-1)),
            "question n: a number question has a minimum below its maximum",
        ),
        (
            json!({ "title": "x" }),
            "the file: it is not an assessment definition",
        ),
        (
            {
                let mut d = edges(2);
                d["sections"][0]["questions"][0]["maximum"] = json!(3);
                d
            },
            "unknown field `maximum`",
        ),
    ];
    for (definition, expected) in cases {
        let message = refusal(definition);
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
    }
}

#[test]
fn answers_that_do_not_fit_are_refused_naming_the_question() {
    let a = risk_profile();
    let good = json!({
        "horizon": "over_7", "income": "steady", "reserve": "over_3", "age": 45,
        "drop": "hold", "experience": "some", "goals": ["growth"], "comfort": 7
    });
    a.evaluate(&good).unwrap();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "horizon",
            json!("forever"),
            "horizon: that is not one of the options",
        ),
        ("horizon", json!(4), "horizon: choose one option"),
        ("age", json!(17), "age: give a number from 18 to 110"),
        ("age", json!(40.5), "age: give a whole number"),
        ("comfort", json!(11), "comfort: choose from 1 to 10"),
        (
            "goals",
            json!(["growth", "growth"]),
            "goals: an option is chosen twice",
        ),
        (
            "goals",
            json!(["growth", "income", "preserve"]),
            "goals: choose at most 2",
        ),
        ("drop", Value::Null, "drop: this question needs an answer"),
        (
            "notes",
            json!("x".repeat(501)),
            "notes: at most 500 characters",
        ),
        (
            "notes",
            json!("a\u{0}b"),
            "notes: remove the control characters",
        ),
        ("bonus", json!(1), "bonus: there is no such question"),
    ];
    for (question, value, expected) in cases {
        let mut answers = good.clone();
        answers[question] = value;
        let e = a.evaluate(&answers).unwrap_err();
        assert_eq!(e.code(), "answer_invalid");
        assert_eq!(e.to_string(), expected);
    }
    let e = a.evaluate(&json!([1, 2])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "answers: send the answers as an object by question"
    );
}

/// A valid answer for each question of the demo profile, from `seed` values.
fn valid_answers() -> impl Strategy<Value = Value> {
    (
        0usize..3,
        0usize..3,
        0usize..3,
        18i64..=110,
        proptest::option::of(0.0f64..=100.0),
        0usize..4,
        0usize..3,
        proptest::sample::subsequence(vec!["preserve", "income", "growth", "speculate"], 1..=2),
        1i64..=10,
    )
        .prop_map(|(h, i, r, age, share, d, e, goals, comfort)| {
            let horizon = ["under_3", "from_3_to_7", "over_7"][h];
            let income = ["unsteady", "steady", "very_steady"][i];
            let reserve = ["none", "under_3", "over_3"][r];
            let drop = ["sell_all", "sell_some", "hold", "buy"][d];
            let experience = ["none", "some", "much"][e];
            let mut v = json!({
                "horizon": horizon,
                "income": income,
                "reserve": reserve,
                "age": age,
                "drop": drop,
                "experience": experience,
                "goals": goals,
                "comfort": comfort,
            });
            if let Some(share) = share {
                v["share"] = json!(share);
            }
            v
        })
}

/// Any JSON at all, as a hostile client might send.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-z_]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("horizon".to_owned()),
                    Just("goals".to_owned()),
                    Just("age".to_owned()),
                    Just("comfort".to_owned()),
                    "[a-z]{1,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn valid_answers_always_score_within_the_ranges_into_exactly_one_band(answers in valid_answers()) {
        let a = risk_profile();
        let (_, scored) = a.evaluate(&answers).unwrap();
        for (id, value) in &scored.scores {
            let range = a.rules.ranges()[id];
            prop_assert!(range.contains(*value), "{id} = {value} outside {range:?}");
        }
        let risk = scored.scores[2].1;
        let holding: Vec<_> = a.definition.result.bands.iter()
            .enumerate()
            .filter(|(i, b)| b.from <= risk && (risk < b.to || (*i == 2 && risk <= b.to)))
            .collect();
        prop_assert_eq!(holding.len(), 1);
        prop_assert_eq!(holding[0].0, scored.band);
    }

    #[test]
    fn any_answers_at_all_are_scored_or_refused_without_a_panic(answers in any_json()) {
        let a = risk_profile();
        if let Err(e) = a.evaluate(&answers) {
            prop_assert_eq!(e.code(), "answer_invalid");
        }
    }
}

#[test]
fn unanswered_optional_questions_read_as_nothing_chosen_and_zero_in_rules() {
    // Each kind of optional question, unanswered, used by a rule as an answer: the number
    // and the scale in arithmetic, the choices in conditions.
    let definition = json!({
        "title": "Optional",
        "purpose": "Testing answers left out.",
        "sections": [{ "title": "One", "questions": [
            { "id": "n", "text": "A number", "kind": "number", "min": 1, "max": 9 },
            { "id": "s", "text": "A scale", "kind": "scale", "min": 1, "max": 5 },
            { "id": "one", "text": "One", "kind": "single_choice", "options": [
                { "id": "a", "label": "A", "points": 1 }, { "id": "b", "label": "B", "points": 2 } ] },
            { "id": "many", "text": "Many", "kind": "multiple_choice", "options": [
                { "id": "a", "label": "A", "points": 1 }, { "id": "b", "label": "B", "points": 2 } ] }
        ]}],
        "scores": [{ "id": "total", "label": "Total", "logic": { "+": [
            { "var": "answers.n" },
            { "var": "answers.s" },
            { "if": [{ "==": [{ "var": "answers.one" }, "b"] }, 10, 0] },
            { "if": [{ "in": ["b", { "var": "answers.many" }] }, 100, 0] }
        ] } }],
        "result": { "score": "total", "bands": [
            { "from": 0, "to": 200, "label": "All", "client_text": "all" }
        ]},
        "client_sees": { "band": true }
    });
    let a = Assessment::parse(&definition).unwrap();
    assert_eq!(a.rules.ranges()["total"].lo, 0.0);
    let (_, scored) = a.evaluate(&json!({})).unwrap();
    assert_eq!(scored.scores, vec![("total".to_owned(), 0.0)]);
    let (_, scored) = a
        .evaluate(&json!({ "n": 2, "s": 3, "one": "b", "many": ["a", "b"] }))
        .unwrap();
    assert_eq!(scored.scores, vec![("total".to_owned(), 115.0)]);
}

#[test]
fn a_score_that_could_grow_past_what_a_number_holds_exactly_is_refused() {
    let huge = with(
        edges(2),
        "/scores/0/logic",
        json!({ "*": [{ "var": "points.n" }, 1e9, 1e9, 1e9] }),
    );
    assert!(refusal(huge).contains("score s: the score can reach"));
}

/// A change to a definition, named.
type Change = (&'static str, fn(&mut Value));

#[test]
fn the_rules_hash_follows_scoring_not_wording() {
    let base: Value = serde_json::from_str(RISK_PROFILE).unwrap();
    let hash = |d: &Value| Assessment::parse(d).unwrap().rules_sha256();
    let first = hash(&base);
    assert_eq!(first, hash(&base), "deterministic");
    for (path, value) in [
        ("/title", json!("Another title")),
        ("/sections/0/questions/0/text", json!("Reworded?")),
        ("/result/bands/0/client_text", json!("Reworded.")),
        ("/embed/allowed_origins", json!(["https://other.example"])),
    ] {
        assert_eq!(hash(&with(base.clone(), path, value)), first, "{path}");
    }
    let changes: [Change; 3] = [
        ("an option's points", |d| {
            d["sections"][0]["questions"][0]["options"][0]["points"] = json!(0.5)
        }),
        ("a band's label", |d| {
            d["result"]["bands"][0]["label"] = json!("Careful")
        }),
        ("a score's rounding", |d| {
            d["scores"][0]["decimals"] = json!(1)
        }),
    ];
    for (what, change) in changes {
        let mut changed = base.clone();
        change(&mut changed);
        assert_ne!(hash(&changed), first, "{what}");
    }
}

#[test]
fn embedding_sites_are_https_origins_listed_once() {
    let base: Value = serde_json::from_str(RISK_PROFILE).unwrap();
    let parsed = Assessment::parse(&with(
        base.clone(),
        "/embed/allowed_origins",
        json!(["https://A.example/", "https://b.example:8444"]),
    ))
    .unwrap();
    let origins: Vec<&str> = parsed
        .definition
        .embed
        .allowed_origins
        .iter()
        .map(|o| o.as_str())
        .collect();
    assert_eq!(origins, ["https://a.example", "https://b.example:8444"]);
    let refused = |origins: Value| {
        Assessment::parse(&with(base.clone(), "/embed/allowed_origins", origins))
            .unwrap_err()
            .to_string()
    };
    assert!(refused(json!(["http://a.example"])).contains("https://"));
    assert!(refused(json!(["https://a.example/page"])).contains("without a path"));
    assert!(
        refused(json!(["https://a.example", "https://A.example/"]))
            .contains("embed: https://a.example is listed twice")
    );
    let many: Vec<String> = (0..21).map(|i| format!("https://s{i}.example")).collect();
    assert!(refused(json!(many)).contains("at most 20"));
    // Without the list, nowhere.
    let mut none = base;
    none.as_object_mut().unwrap().remove("embed");
    let parsed = Assessment::parse(&none).unwrap();
    assert!(parsed.definition.embed.allowed_origins.is_empty());
}

#[test]
fn whole_numbers_are_read_and_kept_in_one_form() {
    let a = risk_profile();
    let as_int = json!({
        "horizon": "over_7", "income": "steady", "reserve": "over_3", "age": 45,
        "drop": "hold", "experience": "some", "goals": ["growth"], "comfort": 7
    });
    let mut as_float = as_int.clone();
    as_float["age"] = json!(45.0);
    as_float["comfort"] = json!(7.0);
    let (int_answers, int_scored) = a.evaluate(&as_int).unwrap();
    let (float_answers, float_scored) = a.evaluate(&as_float).unwrap();
    assert_eq!(int_scored, float_scored);
    assert_eq!(int_answers.given, float_answers.given, "kept as 45 and 7");
    assert_eq!(
        serde_json::to_string(&float_answers.given["comfort"]).unwrap(),
        "7"
    );
    let mut half = as_int;
    half["comfort"] = json!(7.5);
    let refused = a.evaluate(&half).unwrap_err().to_string();
    assert!(
        refused.contains("comfort: choose a point on the scale"),
        "{refused}"
    );
}
