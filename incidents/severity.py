"""How severe an incident is, derived from what happened by fixed, documented rules.

The severity is the highest of:

1. the request type's base severity (for example low for asking for a personal number,
   moderate for romantic advances, high for harassment, stalking or physical contact);
2. the person's response: accepting the answer adds nothing, asking again makes it at
   least moderate, escalating makes it high;
3. what the reporter had to do: calling security or the police makes it high;
4. how the reporter feels: "I feel unsafe" makes it high.

Reporters see the result before they submit. docs/severity.md repeats these rules for
supervisors and managers.
"""

from __future__ import annotations

from incidents.models import PersonResponse, RequestType, Severity

RESPONSE_SEVERITY = {
    PersonResponse.ACCEPTED: Severity.LOW,
    PersonResponse.ASKED_AGAIN: Severity.MODERATE,
    PersonResponse.ESCALATED: Severity.HIGH,
}


def derive_severity(
    *,
    request_type: RequestType,
    person_response: str,
    called_security: bool,
    called_police: bool,
    feels_unsafe: bool,
) -> Severity:
    levels = [
        Severity(request_type.base_severity),
        RESPONSE_SEVERITY[PersonResponse(person_response)],
    ]
    if called_security or called_police or feels_unsafe:
        levels.append(Severity.HIGH)
    return max(levels)
