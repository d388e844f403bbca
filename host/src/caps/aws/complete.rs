//! An AWS answer is data only when it is a whole document. The SDK's XML reader takes
//! a body cut short (HTTP 200 and a matching Content-Length, from a proxy or a broken
//! connection) as a complete answer: half a DescribeVpcs would list only the VPCs
//! before the cut, and a finished trainee would fail. This interceptor refuses any
//! 2xx answer whose XML document does not end with its root element's closing tag;
//! the call then fails as an incomplete answer (retried like a 5xx, and an `error`
//! row naming the operation if it stays so).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::text::{aws as t, Text, ToText};

/// The SDK interceptor every AWS client of labrun carries.
#[derive(Debug)]
pub struct WholeAnswers;

impl Intercept for WholeAnswers {
    fn name(&self) -> &'static str {
        "labrun::whole-answers"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        if !response.status().is_success() {
            // An error answer is never data; the SDK reports it as whatever it reads.
            return Ok(());
        }
        let body = response.body().bytes().unwrap_or(&[]);
        match whole_xml(body) {
            Ok(()) => Ok(()),
            Err(why) => Err(Box::new(Incomplete {
                action: cfg
                    .load::<Metadata>()
                    .map(|m| m.name().to_string())
                    .unwrap_or_default(),
                bytes: body.len(),
                why,
            })),
        }
    }
}

/// A 2xx answer that is not a whole XML document.
#[derive(Debug)]
pub struct Incomplete {
    /// The AWS action, e.g. `DescribeVpcs`.
    pub action: String,
    pub bytes: usize,
    pub why: Text,
}

impl ToText for Incomplete {
    fn text(&self) -> Text {
        t::Incomplete {
            action: &self.action,
            why: &self.why,
            bytes: self.bytes,
        }
        .into()
    }
}

crate::display_as_text!(Incomplete);

impl std::error::Error for Incomplete {}

/// Whether `body` is one whole XML document: an optional prolog, a root element, and
/// nothing after the root's end. Checks the frame only (where a cut shows), not every
/// element inside.
pub fn whole_xml(body: &[u8]) -> Result<(), Text> {
    let text = String::from_utf8_lossy(body);
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    if rest.is_empty() {
        return Err(t::NoDocument {}.into());
    }
    // Prolog: the XML declaration, processing instructions, comments.
    loop {
        if let Some(after) = rest.strip_prefix("<?") {
            rest = after
                .split_once("?>")
                .ok_or_else(|| Text::from(t::InDeclaration {}))?
                .1
                .trim_start();
        } else if let Some(after) = rest.strip_prefix("<!--") {
            rest = after
                .split_once("-->")
                .ok_or_else(|| Text::from(t::InComment {}))?
                .1
                .trim_start();
        } else {
            break;
        }
    }
    let after_lt = rest
        .strip_prefix('<')
        .ok_or_else(|| Text::from(t::NoElement {}))?;
    let name_len = after_lt
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .ok_or_else(|| Text::from(t::InFirstTag {}))?;
    let root = &after_lt[..name_len];
    if root.is_empty() {
        return Err(t::NoElement {}.into());
    }
    let start_tag_end = after_lt
        .find('>')
        .ok_or_else(|| Text::from(t::InFirstTag {}))?;
    let end = rest.trim_end();
    if after_lt[..start_tag_end].ends_with('/') {
        // `<Root/>`: an empty document is whole when nothing follows.
        return if after_lt[start_tag_end + 1..].trim().is_empty() {
            Ok(())
        } else {
            Err(t::AfterEmpty { root }.into())
        };
    }
    let closing = end
        .strip_suffix('>')
        .and_then(|e| e.rfind("</").map(|i| e[i + 2..].trim_end()));
    if closing == Some(root) {
        Ok(())
    } else {
        Err(t::BeforeClose { root }.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VPCS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>
    <vpcSet>
        <item><vpcId>vpc-1</vpcId><isDefault>true</isDefault></item>
        <item><vpcId>vpc-2</vpcId><isDefault>false</isDefault></item>
    </vpcSet>
</DescribeVpcsResponse>
"#;

    #[test]
    fn a_whole_document_is_accepted() {
        whole_xml(VPCS.as_bytes()).unwrap();
        whole_xml(b"<LocationConstraint/>").unwrap();
        whole_xml(b"\xef\xbb\xbf<A><B/></A>").unwrap();
        whole_xml(b"<!-- x --><A x='1'>t</A >").unwrap();
    }

    #[test]
    fn a_body_cut_anywhere_is_refused() {
        let bytes = VPCS.as_bytes();
        let end = VPCS.trim_end().len();
        // Every cut shorter than the closing tag's end (the issue's case: half of it).
        for cut in (0..end).rev() {
            assert!(
                whole_xml(&bytes[..cut]).is_err(),
                "cut at {cut} accepted: {:?}",
                &VPCS[..cut]
            );
        }
        let why = whole_xml(&bytes[..bytes.len() / 2]).unwrap_err();
        assert_eq!(
            why.en(),
            "the document ends before its closing </DescribeVpcsResponse>"
        );
        assert!(whole_xml(b"").is_err());
        assert!(whole_xml(b"   ").is_err());
        assert!(whole_xml(b"not xml").is_err());
        assert!(whole_xml(b"<A/>trailing").is_err());
        assert!(whole_xml(b"<?xml version='1.0'").is_err());
    }

    #[test]
    fn the_message_names_the_action_and_what_was_received() {
        let e = Incomplete {
            action: "DescribeVpcs".into(),
            bytes: 123,
            why: t::BeforeClose {
                root: "DescribeVpcsResponse",
            }
            .into(),
        };
        assert_eq!(
            e.text().en(),
            "the answer to DescribeVpcs is incomplete (the document ends before its \
             closing </DescribeVpcsResponse>, 123 bytes received); it was not used"
        );
    }
}
