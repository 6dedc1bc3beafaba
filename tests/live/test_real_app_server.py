"""What only the real App Server can show: the fake LLM's answer and the hop to the agent server.

The fake App Server scripts its own agent and does not emulate agent servers, so these checks
run against the real server only (the ``peer`` fixture narrowed to "real").
"""

from __future__ import annotations

import pytest

from apps.openhands import AgentServerClient, AppServerClient
from tests.live.conftest import FinishedConversation, message_text
from tests.peers.live.fake_llm import FAKE_REPLY

QUALIFIED_KIND = "openhands.sdk.event.llm_convertible.message.MessageEvent"

pytestmark = [pytest.mark.live, pytest.mark.parametrize("peer", ["real"], indirect=True)]


def test_agent_answers_with_the_fake_llm_reply(
    finished_conversation: FinishedConversation,
) -> None:
    agent_messages = [
        event
        for event in finished_conversation.events
        if event.kind == "MessageEvent" and event.source == "agent"
    ]

    assert [message_text(event) for event in agent_messages] == [FAKE_REPLY]
    assert finished_conversation.conversation.llm_model == "openai/fake"


def test_conversation_sandbox_leads_to_its_agent_server(
    app: AppServerClient, finished_conversation: FinishedConversation
) -> None:
    conversation = finished_conversation.conversation
    sandbox = app.get_sandbox(conversation.sandbox_id)

    with AgentServerClient.for_sandbox(sandbox) as agent:
        assert agent.health() is True
        live_events = agent.search_conversation_events(conversation.id).items
        by_short_kind = agent.search_conversation_events(conversation.id, kind="MessageEvent")
        by_qualified_kind = agent.search_conversation_events(conversation.id, kind=QUALIFIED_KIND)

    stored_messages = app.search_events(conversation.id, kind="MessageEvent").items
    live_messages = [event for event in live_events if event.kind == "MessageEvent"]
    # The App Server stores what the agent server posted to its webhook.
    assert [event.id for event in live_messages] == [event.id for event in stored_messages]
    assert sandbox.agent_server_url == finished_conversation.ready_task.agent_server_url
    # The agent server in these sandboxes (1.34.0) filters on the qualified class name only;
    # the client sends that for short names, so both work.
    assert [event.id for event in by_short_kind.items] == [event.id for event in live_messages]
    assert [event.id for event in by_qualified_kind.items] == [event.id for event in live_messages]
