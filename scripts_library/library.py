"""The organisation's starting library: words for declining each kind of request, written
for this project from the guidance in its domain brief.

For every situation (request type) there is a first response, a line for when they ask
again, and a line for when it escalates. Words are short enough to say aloud; guidance
tells staff when to use them and what to do next. ``manage.py load_scripts`` adds any
script whose key is not yet in the database; scripts already there are left exactly as
the organisation has edited them.
"""

from __future__ import annotations

from dataclasses import dataclass

from scripts_library.models import Stage


@dataclass(frozen=True)
class LibraryScript:
    key: str
    category: str  # a Category code (migration 0002)
    stage: Stage
    request_types: tuple[str, ...]  # RequestType codes (incidents migration 0003)
    title: str
    text: str
    guidance: str
    channels: tuple[str, ...] = ()  # Channel codes; empty means any channel


FIRST, AGAIN, ESCALATES = Stage.FIRST, Stage.AGAIN, Stage.ESCALATES

# What every escalation line asks of staff afterwards, so the guidance stays consistent.
_AFTERWARDS = (
    "Tell your supervisor the same day, record the exact words used and any witnesses, "
    "and ask for a debrief if it has shaken you."
)

LIBRARY: tuple[LibraryScript, ...] = (
    # --- Asked for my personal number or contact details -----------------------------
    LibraryScript(
        key="personal-contact-policy",
        category="policy",
        stage=FIRST,
        request_types=("personal-contact",),
        title="Personal number: the rule for everyone",
        text=(
            "I'm sorry, staff here don't give out personal numbers or contact details, so I "
            "can't share mine. If you need us, please use the ward's own number."
        ),
        guidance=(
            "Use as soon as someone asks for your phone number, personal email, address or "
            "social media name. It is the organisation's rule, not a judgement of them, so "
            "say it kindly and without a long apology, then turn back to their care. "
            "Record the request here even if they accepted the answer, and tell your "
            "supervisor."
        ),
    ),
    LibraryScript(
        key="personal-contact-redirect",
        category="redirect-to-care",
        stage=FIRST,
        request_types=("personal-contact",),
        title="Personal number: back to their care",
        text=(
            "I can't give you my number, but let's make the most of the time we have now. "
            "Is there anything about your care you'd like to go over?"
        ),
        guidance=(
            "Useful when the request comes in the middle of a care task. Decline in one "
            "sentence and move straight on to their health, medication or plan, so there "
            "is nothing left to debate. Record it afterwards."
        ),
    ),
    LibraryScript(
        key="personal-contact-unit-phone",
        category="official-channels",
        stage=FIRST,
        request_types=("personal-contact",),
        channels=("unit-phone",),
        title="A caller asks the ward for a colleague's number",
        text=(
            "Thank you for calling, but we never pass on staff members' personal details. "
            "If your call is about your care, I can take a message for the team."
        ),
        guidance=(
            "For calls to the ward asking for a colleague's number, address or shifts. "
            "Don't confirm when anyone is working. Take a message only if it is about "
            "care, and pass it on at handover. Tell the colleague and the nurse in charge "
            "that someone asked, and record the call."
        ),
    ),
    LibraryScript(
        key="personal-contact-again",
        category="broken-record",
        stage=AGAIN,
        request_types=("personal-contact",),
        title="Personal number: asked again",
        text=(
            "As I said, I can't give you my personal details. The ward's number is the way "
            "to reach us."
        ),
        guidance=(
            "Repeat the same short answer in the same calm tone. Don't add new reasons or "
            "argue the point: each new reason invites a new argument. If they keep "
            "pressing, use the escalation line."
        ),
    ),
    LibraryScript(
        key="personal-contact-escalates",
        category="escalation",
        stage=ESCALATES,
        request_types=("personal-contact",),
        title="Personal number: they won't accept the answer",
        text=(
            "I've answered that, and I'm going to step away now. I'll ask my supervisor to "
            "come and speak with you."
        ),
        guidance=(
            "Use when they won't take no, become angry, or the asking turns into pressure. "
            "End the conversation calmly, leave the bay or room, and find your supervisor "
            "or the nurse in charge. If you feel threatened, call security; if anyone is "
            "in immediate danger, call the emergency services. " + _AFTERWARDS
        ),
    ),
    # --- Offered or pressed their own number on me -----------------------------------
    LibraryScript(
        key="offered-number-hand-back",
        category="their-number",
        stage=FIRST,
        request_types=("offered-number",),
        title="Their number: hand it back",
        text=(
            "That's kind of you, but I can't keep personal numbers from patients, so I'll "
            "hand this back. If you need us after you go home, please call the ward."
        ),
        guidance=(
            "Do not keep the number, save it in your phone, or ever use it. Hand it back; "
            "if they won't take it or have already gone, put it in the confidential waste "
            "and tell your line manager. Record here what you did with it."
        ),
    ),
    LibraryScript(
        key="offered-number-again",
        category="broken-record",
        stage=AGAIN,
        request_types=("offered-number",),
        title="Their number: pressed on me again",
        text="Thank you, but I still can't take it. Please keep it.",
        guidance=(
            "If they press it on you again, give the same answer and put it down rather "
            "than take it. Don't explain further. Dispose of any copy left behind in the "
            "confidential waste and tell your line manager."
        ),
    ),
    LibraryScript(
        key="offered-number-escalates",
        category="escalation",
        stage=ESCALATES,
        request_types=("offered-number",),
        title="Their number: they keep insisting",
        text=(
            "I've said I can't take your number, and I'm leaving it there. I'll ask my "
            "supervisor to come and speak with you."
        ),
        guidance=(
            "Use if they keep insisting, slip numbers into your pockets, bag or car, or "
            "become upset. Step away and tell your supervisor, who may set out "
            "expectations with them in writing. Call security if you feel unsafe. Hand any "
            "numbers you find to your line manager and never use them. " + _AFTERWARDS
        ),
    ),
    # --- Friend or follow request, or messages, on social media ----------------------
    LibraryScript(
        key="social-media-first",
        category="social-media",
        stage=FIRST,
        request_types=("social-media",),
        title="Friend or follow request",
        text=(
            "Thank you for thinking of me, but I don't connect with patients or their "
            "families on my personal accounts. It's the same for everyone on the team."
        ),
        guidance=(
            "For a friend or follow request or a message from a patient, relative or former "
            "patient. Don't accept, reply or react from your personal account: take a "
            "screenshot, then decline or ignore the request and block if you need to. Say "
            "these words in person if they raise it. If your organisation has an official "
            "page, you may point them to it. Record it and tell your supervisor."
        ),
    ),
    LibraryScript(
        key="social-media-dating-app",
        category="social-media",
        stage=FIRST,
        request_types=("social-media",),
        channels=("social-media",),
        title="Matched on a dating app",
        text=(
            "I noticed we matched on an app. I don't have personal contact with patients or "
            "their families, so I've unmatched, and please don't contact me there."
        ),
        guidance=(
            "For a patient, relative or former patient who matches with or messages you on "
            "a dating app. Take a screenshot, unmatch and block first, then use these "
            "words only if they raise it at work. Don't reply on the app. Record it and "
            "tell your supervisor."
        ),
    ),
    LibraryScript(
        key="social-media-again",
        category="broken-record",
        stage=AGAIN,
        request_types=("social-media",),
        title="Friend request: asked again",
        text=(
            "I did see your request, and my answer is the same: I don't connect with "
            "patients or families online. Anything about care, please raise with the team."
        ),
        guidance=(
            "For repeat requests, new accounts, or messages after you declined. Give the "
            "same answer without explaining further. Block the accounts, keep screenshots "
            "with dates, and tell your supervisor: repeated requests are a pattern the "
            "organisation needs to see."
        ),
    ),
    LibraryScript(
        key="social-media-escalates",
        category="escalation",
        stage=ESCALATES,
        request_types=("social-media",),
        title="Social media: messages keep coming",
        text=(
            "I've said I don't connect with patients or families online, and I won't reply "
            "there. I'm ending this conversation now and passing it to my supervisor."
        ),
        guidance=(
            "Use when messages continue after you declined, turn hostile or sexual, or show "
            "they have been searching for your life outside work. Stop replying, block, and "
            "keep the evidence. Repeated unwanted messages can be harassment, which is a "
            "crime: your supervisor or security can help you involve the police. If you "
            "feel in danger, call the emergency services. " + _AFTERWARDS
        ),
    ),
    # --- Asked to meet or socialise outside care -------------------------------------
    LibraryScript(
        key="meet-outside-first",
        category="empathetic-firm",
        stage=FIRST,
        request_types=("meet-outside",),
        title="Invitation to meet outside work",
        text=(
            "That's a kind thought, and I'm glad you've felt well looked after. I don't meet "
            "patients outside work, though: keeping it professional keeps the care good."
        ),
        guidance=(
            "For an invitation to a drink, a meal, a date, a visit or an event. Acknowledge "
            "the warmth, then hold the line. Don't leave room to negotiate: 'maybe after "
            "you're discharged' sounds like a yes. Move back to their care, record it, and "
            "tell your supervisor."
        ),
    ),
    LibraryScript(
        key="meet-outside-redirect",
        category="redirect-to-care",
        stage=FIRST,
        request_types=("meet-outside",),
        title="Invitation: decline and move on",
        text=(
            "That's kind of you, but I don't meet patients outside work. Now, shall we go "
            "over your plan for the next few days?"
        ),
        guidance=(
            "For an invitation made in passing, when a short answer is best. Decline in one "
            "sentence and move straight to their plan, so there is nothing left to debate. "
            "Record it afterwards."
        ),
    ),
    LibraryScript(
        key="meet-outside-again",
        category="broken-record",
        stage=AGAIN,
        request_types=("meet-outside",),
        title="Invitation: asked again",
        text=(
            "I understand, but my answer is the same: I don't see patients outside work. "
            "Let's get back to your care."
        ),
        guidance=(
            "Repeat the same refusal calmly. Don't offer new reasons, another date or "
            "'another time'. If they keep coming back to it, tell your supervisor, who may "
            "arrange for a colleague to look after them."
        ),
    ),
    LibraryScript(
        key="meet-outside-escalates",
        category="escalation",
        stage=ESCALATES,
        request_types=("meet-outside",),
        title="Invitation: they won't take no",
        text=(
            "I've given you my answer and I won't discuss it again. I'm going to leave now "
            "and ask my supervisor to speak with you."
        ),
        guidance=(
            "Use if they won't take no, say they will wait for you, or turn up where you "
            "are outside work. End the conversation and leave. If you are worried about "
            "going to your car, ask security or a colleague to walk with you; if they come "
            "to your home or follow you, call the police. " + _AFTERWARDS
        ),
    ),
    # --- Offered gifts or money beyond a token thank-you -----------------------------
    LibraryScript(
        key="gifts-first",
        category="gifts-favours",
        stage=FIRST,
        request_types=("gifts",),
        title="Gift or money: decline with thanks",
        text=(
            "Thank you, that's really thoughtful, but I'm not allowed to accept gifts or "
            "money. Knowing you're doing well is thanks enough."
        ),
        guidance=(
            "For cash, vouchers, jewellery, or anything personal or valuable. A card or a "
            "small token shared by the whole team is usually fine: check your "
            "organisation's gifts policy. If something has been left, give it to your line "
            "manager to return or enter in the gifts register. Record the offer here."
        ),
    ),
    LibraryScript(
        key="gifts-again",
        category="broken-record",
        stage=AGAIN,
        request_types=("gifts",),
        title="Gift: offered again",
        text="I do appreciate it, but it's still no, thank you. Please keep it.",
        guidance=(
            "If they press the gift again or try to leave it anyway, repeat the same thanks "
            "and refusal. Don't take it 'just to look after it'. If it is left behind, hand "
            "it to your line manager the same day."
        ),
    ),
    LibraryScript(
        key="gifts-escalates",
        category="escalation",
        stage=ESCALATES,
        request_types=("gifts",),
        title="Gift: they insist or ask for something back",
        text=(
            "I can't accept this and I won't discuss it further. I'll ask my supervisor to "
            "speak with you about it."
        ),
        guidance=(
            "Use if they become upset, hide gifts among your things, or link a gift to a "
            "favour or to their care. Step away and tell your line manager, and hand over "
            "anything left. Call security if they become threatening. Money or valuables "
            "offered in return for a favour must be reported straight away. " + _AFTERWARDS
        ),
    ),
    # --- Asked for private services --------------------------------------------------
    LibraryScript(
        key="private-services-first",
        category="policy",
        stage=FIRST,
        request_types=("private-services",),
        title="Private work: not allowed",
        text=(
            "I'm afraid I can't do private work for patients or their families: none of us "
            "can. If you need help at home, please ask the team about the services that can "
            "support you."
        ),
        guidance=(
            "For requests to babysit, to nurse or care for them privately, or any paid help "
            "outside work, now or after discharge. Decline clearly, without 'maybe later'. "
            "If the request shows a real need for support at home, tell the nurse in charge "
            "so it goes into the discharge plan. Record it and tell your supervisor."
        ),
    ),
    LibraryScript(
        key="private-services-again",
        category="broken-record",
        stage=AGAIN,
        request_types=("private-services",),
        title="Private work: asked again",
        text=(
            "I know you'd like it to be me, but my answer is still no. Please talk to the "
            "team about support at home."
        ),
        guidance=(
            "Repeat the same answer without new reasons. Don't recommend a friend or "
            "colleague privately instead. If they keep asking, tell your supervisor."
        ),
    ),
    LibraryScript(
        key="private-services-escalates",
        category="escalation",
        stage=ESCALATES,
        request_types=("private-services",),
        title="Private work: they keep pressing",
        text=(
            "I've answered that, and I'm ending this conversation now. I'll let my "
            "supervisor know so they can speak with you."
        ),
        guidance=(
            "Use if they offer more money, won't take no, or contact you outside work about "
            "it. Stop the conversation and tell your supervisor, and call security if you "
            "feel unsafe. Private arrangements with patients go against professional codes, "
            "so keep a record of every approach. " + _AFTERWARDS
        ),
    ),
    # --- Kept contacting me personally after discharge -------------------------------
    LibraryScript(
        key="post-discharge-first",
        category="official-channels",
        stage=FIRST,
        request_types=("post-discharge-contact",),
        title="After discharge: use the ward or the portal",
        text=(
            "It's good to hear you're doing well, but I can't keep in touch personally. For "
            "anything about your care, please call the ward or use the patient portal."
        ),
        guidance=(
            "For a former patient who calls, texts, messages or visits you personally. A "
            "thank-you to the unit, a card, or a question on the ward line is normal and "
            "not an incident; personal contact with you is. Don't reply from your personal "
            "phone or accounts: say this if they call the ward or visit, or ask your "
            "supervisor to respond. Record it."
        ),
    ),
    LibraryScript(
        key="post-discharge-again",
        category="broken-record",
        stage=AGAIN,
        request_types=("post-discharge-contact",),
        title="After discharge: contact again",
        text=(
            "As I said before, I can't keep in touch personally. The ward line or the "
            "patient portal is the way to reach the team."
        ),
        guidance=(
            "Give the same answer if they get in touch again. Don't answer personal "
            "messages at all; block the number or account if you need to. Record each "
            "contact: the dates show whether it is becoming a pattern."
        ),
    ),
    LibraryScript(
        key="post-discharge-escalates",
        category="escalation",
        stage=ESCALATES,
        request_types=("post-discharge-contact",),
        title="After discharge: it won't stop",
        text=(
            "I can't talk with you personally, so I'm ending this conversation now. If "
            "you're unwell, please contact your GP, or the emergency services if it's urgent."
        ),
        guidance=(
            "Use when contact carries on after you declined, or when they say they are "
            "unwell or in crisis: direct them to be seen rather than helping personally, "
            "then stop. Repeated contact that distresses you can be harassment; your "
            "supervisor can help you involve security or the police. " + _AFTERWARDS
        ),
    ),
    # --- Romantic or sexual advances -------------------------------------------------
    LibraryScript(
        key="romantic-first",
        category="redirect-to-care",
        stage=FIRST,
        request_types=("romantic",),
        title="Romantic advance: keep it professional",
        text=(
            "I'm here as part of your care, and our relationship stays professional. Now, "
            "let's carry on with your treatment."
        ),
        guidance=(
            "For remarks that cross a line, propositions, requests for a date, or comments "
            "of a sexual kind. Say it plainly and calmly, then carry straight on with the "
            "task. If you'd rather not continue alone, ask a colleague to join you or take "
            "over. Record the words they used and tell your supervisor."
        ),
    ),
    LibraryScript(
        key="romantic-again",
        category="broken-record",
        stage=AGAIN,
        request_types=("romantic",),
        title="Romantic advance: again",
        text=(
            "I've told you our relationship is professional, and that won't change. Please "
            "don't say that to me again."
        ),
        guidance=(
            "Repeat the boundary in the same neutral tone. For further care, bring a "
            "colleague with you if you can, and tell your supervisor, who may arrange a "
            "chaperone or a change of carer."
        ),
    ),
    LibraryScript(
        key="romantic-escalates",
        category="escalation",
        stage=ESCALATES,
        request_types=("romantic",),
        title="Sexual behaviour: stop and leave",
        text="That is not acceptable, and I'm stopping now. I'm leaving to get my supervisor.",
        guidance=(
            "Use if they touch you, carry on with sexual remarks after being told to stop, "
            "or expose themselves. Stop the task as soon as it is safe, leave, and get "
            "help: your supervisor, the nurse in charge, or security. Touching of a sexual "
            "kind is an assault and can be reported to the police. " + _AFTERWARDS
        ),
    ),
    # --- Unwanted attention ------------------------------------------------------------
    LibraryScript(
        key="unwanted-attention-first",
        category="empathetic-firm",
        stage=FIRST,
        request_types=("unwanted-attention",),
        title="Unwanted attention: set the limit",
        text=(
            "I can see you'd like to talk with me, but I can only talk with you about your "
            "care, and anyone on the team can help with that. Please don't wait around for "
            "me or ask others about me."
        ),
        guidance=(
            "For repeated calls or messages to the ward for you, waiting around the ward or "
            "car park, or asking colleagues about your shifts or your life. Ask colleagues "
            "not to share your shifts or details. Record every occasion: the pattern "
            "matters more than any one of them. Tell your supervisor."
        ),
    ),
    LibraryScript(
        key="unwanted-attention-again",
        category="broken-record",
        stage=AGAIN,
        request_types=("unwanted-attention",),
        title="Unwanted attention: again",
        text=(
            "As I've said, I can only talk with you about your care. Please speak to "
            "whoever is looking after you today."
        ),
        guidance=(
            "Repeat the same short answer and move on. Ask the team to pass their calls "
            "and questions to whoever is caring for them. If it continues, your supervisor "
            "may speak to them and set out expectations in writing."
        ),
    ),
    LibraryScript(
        key="unwanted-attention-escalates",
        category="escalation",
        stage=ESCALATES,
        request_types=("unwanted-attention",),
        title="Unwanted attention: it has to stop",
        text=(
            "This needs to stop. I'm not going to talk with you now, and I'm asking my "
            "supervisor to deal with it."
        ),
        guidance=(
            "Use if they follow you around the unit, wait for you at the end of your shift, "
            "or refuse to leave. Go to a staffed area and call security if they won't leave. "
            "Don't walk to your car alone: ask security or a colleague to go with you. "
            "Persistent unwanted attention can become stalking, which is a crime. " + _AFTERWARDS
        ),
    ),
    # --- Harassment, threats or verbal abuse -----------------------------------------
    LibraryScript(
        key="harassment-first",
        category="policy",
        stage=FIRST,
        request_types=("harassment",),
        title="Abuse: one clear warning",
        text=(
            "I want to help you, but I can't carry on if you speak to me like that. We "
            "don't accept abuse of staff here."
        ),
        guidance=(
            "For insults, intimidation, threats or verbal abuse, in person, by phone or "
            "online. Keep your voice low, keep your distance, and stay between them and the "
            "door, near other staff. Give one clear warning: the organisation does not "
            "tolerate abuse of staff. Record the exact words and any witnesses."
        ),
    ),
    LibraryScript(
        key="harassment-again",
        category="broken-record",
        stage=AGAIN,
        request_types=("harassment",),
        title="Abuse: it carries on",
        text=(
            "I've asked you not to speak to me like that. If it continues, I will end this "
            "conversation."
        ),
        guidance=(
            "Repeat the warning once, calmly. Don't argue back or defend yourself against "
            "the insults. If it carries on, use the escalation line and leave."
        ),
    ),
    LibraryScript(
        key="harassment-escalates",
        category="escalation",
        stage=ESCALATES,
        request_types=("harassment",),
        title="Threats or abuse: end it and get help",
        text="I'm ending this conversation now and getting help.",
        guidance=(
            "Use for threats, continuing abuse, or whenever you feel unsafe. Leave, go to a "
            "staffed area, and call security or use the alarm; if anyone is in immediate "
            "danger, call the emergency services. Threats and harassment are crimes: the "
            "police can be involved, and your supervisor can recommend a behaviour flag or "
            "a referral to the behaviour committee. " + _AFTERWARDS
        ),
    ),
    # --- Stalking or following ---------------------------------------------------------
    LibraryScript(
        key="stalking-first",
        category="escalation",
        stage=FIRST,
        request_types=("stalking",),
        title="Following me: my life outside work is private",
        text=(
            "My life outside work is private, and I won't discuss it. Please don't follow "
            "me or come to my home."
        ),
        guidance=(
            "For someone who has followed you, found out where you live or park, or turns "
            "up where you are outside work. Don't engage, argue or share anything more. "
            "Tell your supervisor and security the same day; if they are at your home or "
            "you feel in danger, call the police. Stalking is a crime and the police can "
            "seek a protection order. Write down dates, times and places, and keep any "
            "messages."
        ),
    ),
    LibraryScript(
        key="stalking-again",
        category="broken-record",
        stage=AGAIN,
        request_types=("stalking",),
        title="Following me: again",
        text="I've asked you to stay away from me outside work. I won't discuss it.",
        guidance=(
            "Don't get drawn into conversation: say it once and leave. Every occasion "
            "counts as evidence, so record it here and keep your own note of dates and "
            "places."
        ),
    ),
    LibraryScript(
        key="stalking-escalates",
        category="escalation",
        stage=ESCALATES,
        request_types=("stalking",),
        title="Followed or found at home: get safe",
        text="I'm leaving now and getting help.",
        guidance=(
            "If they follow you, block your way, or are at your home: get to a safe place "
            "with other people and call the police (the emergency services if you are in "
            "danger now). At work, call security. Ask your supervisor about keeping you "
            "safe: an escort to your car, changes to your shifts, and support from the "
            "Employee Assistance Programme. " + _AFTERWARDS
        ),
    ),
    # --- Physical abuse or assault -----------------------------------------------------
    LibraryScript(
        key="physical-first",
        category="escalation",
        stage=FIRST,
        request_types=("physical",),
        title="Unwanted touch: let go and step back",
        text="Please let go of me. I'm stepping back, and we can carry on when you're calm.",
        guidance=(
            "For any unwanted physical contact: grabbing, holding on, or touching after you "
            "moved away. Say it clearly and step out of reach, towards the door. Don't "
            "restrain anyone unless you are trained and it is necessary. Tell your "
            "supervisor, record it, and have any injury checked."
        ),
    ),
    LibraryScript(
        key="physical-again",
        category="broken-record",
        stage=AGAIN,
        request_types=("physical",),
        title="Unwanted touch: again",
        text="I've asked you not to touch me. If it happens again, I'll stop and leave.",
        guidance=(
            "Repeat it clearly and keep out of reach. Don't continue care alone: ask a "
            "colleague to join you, and tell the nurse in charge."
        ),
    ),
    LibraryScript(
        key="physical-escalates",
        category="escalation",
        stage=ESCALATES,
        request_types=("physical",),
        title="Assault: get away and raise the alarm",
        text="Stop now. I'm leaving and calling for help.",
        guidance=(
            "For an assault or any violence. Get to safety, raise the alarm or call "
            "security, and call the emergency services if anyone is hurt or in danger. Get "
            "first aid or medical attention for any injury. Assault of staff can be "
            "reported to the police, and the Employee Assistance Programme is there for "
            "you afterwards. " + _AFTERWARDS
        ),
    ),
)
