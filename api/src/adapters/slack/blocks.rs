//! Block Kit as serde types: every message, modal and Home tab monostat sends is built
//! from these, so a typo cannot produce a payload Slack rejects as `invalid_blocks`.
//! Only the parts monostat uses are modelled. Texts are clipped to Slack's limits
//! (protocols.md §2.6) where they are built.

use serde::Serialize;

/// Section text limit.
pub const SECTION_TEXT_MAX: usize = 3000;
/// Button label limit.
pub const BUTTON_TEXT_MAX: usize = 75;
/// Modal title, submit and close label limit.
pub const VIEW_TITLE_MAX: usize = 24;
/// Text inputs accept at most this much as `initial_value`.
pub const INPUT_VALUE_MAX: usize = 3000;

/// `text` cut to `max` characters, with an ellipsis when something was cut.
/// What a text input shows pre-filled with `initial`: Slack refuses longer values.
pub fn prefill(initial: Option<&str>) -> Option<String> {
    initial
        .filter(|v| !v.is_empty())
        .map(|v| clip(v, INPUT_VALUE_MAX))
}

pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(max.saturating_sub(1)).collect();
    clipped.push('\u{2026}');
    clipped
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Text {
    PlainText { text: String, emoji: bool },
    Mrkdwn { text: String, verbatim: bool },
}

impl Text {
    pub fn plain(text: impl AsRef<str>) -> Self {
        Self::PlainText {
            text: clip(text.as_ref(), SECTION_TEXT_MAX),
            emoji: true,
        }
    }

    pub fn mrkdwn(text: impl AsRef<str>) -> Self {
        Self::Mrkdwn {
            text: clip(text.as_ref(), SECTION_TEXT_MAX),
            verbatim: false,
        }
    }

    fn plain_clipped(text: &str, max: usize) -> Self {
        Self::PlainText {
            text: clip(text, max),
            emoji: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Section {
        #[serde(skip_serializing_if = "Option::is_none")]
        block_id: Option<String>,
        text: Text,
    },
    Actions {
        #[serde(skip_serializing_if = "Option::is_none")]
        block_id: Option<String>,
        elements: Vec<Element>,
    },
    Context {
        elements: Vec<Text>,
    },
    Divider {},
    Input {
        block_id: String,
        label: Text,
        element: Element,
        optional: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        hint: Option<Text>,
    },
}

impl Block {
    pub fn section(text: impl AsRef<str>) -> Self {
        Self::Section {
            block_id: None,
            text: Text::mrkdwn(text),
        }
    }

    pub fn actions(elements: Vec<Element>) -> Self {
        Self::Actions {
            block_id: None,
            elements,
        }
    }

    pub fn input(block_id: &str, label: &str, element: Element, optional: bool) -> Self {
        Self::Input {
            block_id: block_id.to_owned(),
            label: Text::plain_clipped(label, 2000),
            element,
            optional,
            hint: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Element {
    Button(Box<Button>),
    PlainTextInput {
        action_id: String,
        multiline: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        initial_value: Option<String>,
    },
    StaticSelect {
        action_id: String,
        options: Vec<SelectOption>,
        #[serde(skip_serializing_if = "Option::is_none")]
        initial_option: Option<SelectOption>,
        #[serde(skip_serializing_if = "Option::is_none")]
        placeholder: Option<Text>,
    },
    Datetimepicker {
        action_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        initial_date_time: Option<i64>,
    },
}

impl Element {
    pub fn button(button: Button) -> Self {
        Self::Button(Box::new(button))
    }

    pub fn text_input(action_id: &str, multiline: bool, initial_value: Option<&str>) -> Self {
        Self::PlainTextInput {
            action_id: action_id.to_owned(),
            multiline,
            initial_value: prefill(initial_value),
        }
    }

    pub fn select(
        action_id: &str,
        options: Vec<SelectOption>,
        initial: Option<SelectOption>,
        placeholder: Option<&str>,
    ) -> Self {
        Self::StaticSelect {
            action_id: action_id.to_owned(),
            options,
            initial_option: initial,
            placeholder: placeholder.map(|p| Text::plain_clipped(p, 150)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Button {
    pub action_id: String,
    pub text: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style: Option<ButtonStyle>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm: Option<ConfirmDialog>,
}

impl Button {
    pub fn new(action_id: &str, label: &str, value: Option<String>) -> Self {
        Self {
            action_id: action_id.to_owned(),
            text: Text::plain_clipped(label, BUTTON_TEXT_MAX),
            value,
            style: None,
            confirm: None,
        }
    }

    #[must_use]
    pub fn style(mut self, style: ButtonStyle) -> Self {
        self.style = Some(style);
        self
    }

    #[must_use]
    pub fn confirm(mut self, dialog: ConfirmDialog) -> Self {
        self.confirm = Some(dialog);
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonStyle {
    Primary,
    Danger,
}

/// A client-side "are you sure?" dialog; the click only reaches us once confirmed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfirmDialog {
    pub title: Text,
    pub text: Text,
    pub confirm: Text,
    pub deny: Text,
}

impl ConfirmDialog {
    pub fn new(title: &str, text: &str, confirm: &str, deny: &str) -> Self {
        Self {
            title: Text::plain_clipped(title, 100),
            text: Text::plain_clipped(text, 300),
            confirm: Text::plain_clipped(confirm, 30),
            deny: Text::plain_clipped(deny, 30),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SelectOption {
    pub text: Text,
    pub value: String,
}

impl SelectOption {
    pub fn new(label: &str, value: &str) -> Self {
        Self {
            text: Text::plain_clipped(label, 75),
            value: value.to_owned(),
        }
    }
}

/// A modal or the App Home tab.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum View {
    Modal {
        callback_id: String,
        title: Text,
        submit: Text,
        close: Text,
        /// monostat keeps the incident id here (≤ 3000 characters).
        private_metadata: String,
        blocks: Vec<Block>,
    },
    Home {
        blocks: Vec<Block>,
    },
}

impl View {
    pub fn modal(
        callback_id: &str,
        title: &str,
        submit: &str,
        private_metadata: String,
        blocks: Vec<Block>,
    ) -> Self {
        Self::Modal {
            callback_id: callback_id.to_owned(),
            title: Text::plain_clipped(title, VIEW_TITLE_MAX),
            submit: Text::plain_clipped(submit, VIEW_TITLE_MAX),
            close: Text::plain_clipped("Cancel", VIEW_TITLE_MAX),
            private_metadata,
            blocks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dismiss_button_serialises_as_slack_documents_it() {
        let button = Element::button(
            Button::new("dismiss_incident", "Dismiss incident", Some("42".into()))
                .style(ButtonStyle::Danger)
                .confirm(ConfirmDialog::new(
                    "Are you sure?",
                    "It disappears from the status page.",
                    "Dismiss incident",
                    "Cancel",
                )),
        );
        let json = serde_json::to_value(&button).unwrap();
        assert_eq!(json["type"], "button");
        assert_eq!(json["style"], "danger");
        assert_eq!(json["confirm"]["deny"]["type"], "plain_text");
        assert_eq!(json["value"], "42");
    }

    #[test]
    fn long_texts_are_clipped_to_slacks_limits() {
        let label = "x".repeat(100);
        let Element::Button(button) = Element::button(Button::new("a", &label, None)) else {
            unreachable!()
        };
        let Text::PlainText { text, .. } = button.text else {
            unreachable!()
        };
        assert_eq!(text.chars().count(), BUTTON_TEXT_MAX);
    }
}
