//! Between the SDK's protocol types and this module's plain ones.

use agent_client_protocol::v1::schema::{
    ContentBlock, PermissionOption, PermissionOptionKind, PlanEntryStatus, PromptResponse,
    ResourceLink, SessionUpdate, TextContent, ToolCall, ToolCallLocation, ToolCallStatus,
    ToolCallUpdate, ToolKind,
};

use super::{
    FsError, PermissionChoice, PermissionKind, PlanStep, PromptBlock, StepStatus, StopReason,
    TokenUsage, ToolCallInfo, ToolStatus, TurnEnd, Update,
};

/// The update in plain terms, or `None` for the kinds this module leaves out.
pub(super) fn update(update: SessionUpdate) -> Option<Update> {
    Some(match update {
        SessionUpdate::AgentMessageChunk(chunk) => Update::Message(text(chunk.content)?),
        SessionUpdate::AgentThoughtChunk(chunk) => Update::Thought(text(chunk.content)?),
        SessionUpdate::ToolCall(call) => Update::ToolCall(tool_call(call)),
        SessionUpdate::ToolCallUpdate(update) => tool_call_update(update),
        SessionUpdate::Plan(plan) => Update::Plan(
            plan.entries
                .into_iter()
                .map(|entry| PlanStep {
                    content: entry.content,
                    status: match entry.status {
                        PlanEntryStatus::InProgress => StepStatus::InProgress,
                        PlanEntryStatus::Completed => StepStatus::Completed,
                        _ => StepStatus::Pending,
                    },
                })
                .collect(),
        ),
        SessionUpdate::UsageUpdate(usage) => Update::ContextUsage {
            used: usage.used,
            size: usage.size,
        },
        _ => return None,
    })
}

/// A content block's text: text itself, or a link's URI; `None` for images, audio and others.
fn text(block: ContentBlock) -> Option<String> {
    match block {
        ContentBlock::Text(text) => Some(text.text),
        ContentBlock::ResourceLink(link) => Some(link.uri),
        _ => None,
    }
}

pub(super) fn tool_call(call: ToolCall) -> ToolCallInfo {
    ToolCallInfo {
        id: call.tool_call_id.0.to_string(),
        title: call.title,
        kind: kind_name(call.kind),
        status: tool_status(call.status),
        paths: paths(call.locations),
    }
}

/// A permission request names its tool call by an update: what it has, over defaults.
pub(super) fn tool_call_from_update(update: ToolCallUpdate) -> ToolCallInfo {
    let fields = update.fields;
    ToolCallInfo {
        id: update.tool_call_id.0.to_string(),
        title: fields.title.unwrap_or_default(),
        kind: fields.kind.map_or_else(|| "other".to_owned(), kind_name),
        status: fields.status.map_or(ToolStatus::Pending, tool_status),
        paths: paths(fields.locations.unwrap_or_default()),
    }
}

fn tool_call_update(update: ToolCallUpdate) -> Update {
    let fields = update.fields;
    Update::ToolCallUpdate {
        id: update.tool_call_id.0.to_string(),
        title: fields.title,
        status: fields.status.map(tool_status),
        paths: paths(fields.locations.unwrap_or_default()),
    }
}

fn paths(locations: Vec<ToolCallLocation>) -> Vec<std::path::PathBuf> {
    locations
        .into_iter()
        .map(|location| location.path)
        .collect()
}

/// The kind as the protocol spells it (`edit`, `read`, ...).
fn kind_name(kind: ToolKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| "other".to_owned())
}

fn tool_status(status: ToolCallStatus) -> ToolStatus {
    match status {
        ToolCallStatus::InProgress => ToolStatus::InProgress,
        ToolCallStatus::Completed => ToolStatus::Completed,
        ToolCallStatus::Failed => ToolStatus::Failed,
        _ => ToolStatus::Pending,
    }
}

pub(super) fn permission_choice(option: PermissionOption) -> PermissionChoice {
    PermissionChoice {
        id: option.option_id.0.to_string(),
        name: option.name,
        kind: match option.kind {
            PermissionOptionKind::AllowAlways => PermissionKind::AllowAlways,
            PermissionOptionKind::RejectOnce => PermissionKind::RejectOnce,
            PermissionOptionKind::RejectAlways => PermissionKind::RejectAlways,
            _ => PermissionKind::AllowOnce,
        },
    }
}

pub(super) fn prompt_block(block: PromptBlock) -> ContentBlock {
    match block {
        PromptBlock::Text(text) => ContentBlock::Text(TextContent::new(text)),
        PromptBlock::File(path) => {
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |name| name.to_string_lossy().into_owned(),
            );
            let uri = url::Url::from_file_path(&path)
                .map_or_else(|()| format!("file://{}", path.display()), String::from);
            ContentBlock::ResourceLink(ResourceLink::new(name, uri))
        }
    }
}

pub(super) fn turn_end(response: PromptResponse) -> TurnEnd {
    let stop = match response.stop_reason {
        agent_client_protocol::v1::schema::StopReason::MaxTokens => StopReason::MaxTokens,
        agent_client_protocol::v1::schema::StopReason::MaxTurnRequests => {
            StopReason::MaxTurnRequests
        }
        agent_client_protocol::v1::schema::StopReason::Refusal => StopReason::Refusal,
        agent_client_protocol::v1::schema::StopReason::Cancelled => StopReason::Cancelled,
        _ => StopReason::EndTurn,
    };
    let usage = response.usage.map(|usage| TokenUsage {
        input: usage.input_tokens,
        output: usage.output_tokens,
        total: usage.total_tokens,
    });
    TurnEnd { stop, usage }
}

pub(super) fn fs_error(error: FsError) -> agent_client_protocol::Error {
    let message = error.to_string();
    let code = match error {
        FsError::NotFound(_) => agent_client_protocol::ErrorCode::RESOURCE_NOT_FOUND,
        FsError::Denied(_) | FsError::Failed(_) => agent_client_protocol::ErrorCode::from(-32603),
    };
    agent_client_protocol::Error::new(code, message)
}
