from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.validators import MaxLengthValidator


class SignInForm(AuthenticationForm):
    """Django's sign-in form with the attributes phones and password managers expect."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update(
            {"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        )
        self.fields["password"].widget.attrs["autocomplete"] = "current-password"
        # Django's form only tells the browser the limit. Checked here, a name too long
        # for any account never reaches authentication, or the lockout's own records
        # (which would refuse it with a server error).
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(username.max_length))


class SecondFactorForm(forms.Form):
    """The second sign-in step: a code from the authenticator app, or a backup code."""

    code = forms.CharField(
        label="Code",
        max_length=24,
        help_text=(
            "The 6-digit code your authenticator app shows now, or one of your backup codes."
        ),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autocapitalize": "none",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )

    def clean_code(self) -> str:
        # People copy codes with spaces or hyphens in them ("123 456", "abcd-efgh").
        code = "".join(self.cleaned_data["code"].split()).replace("-", "").lower()
        if not code.isalnum():
            raise forms.ValidationError(
                "Type the code with letters and digits only.", code="invalid_code"
            )
        return code


class SetUpAuthenticatorForm(forms.Form):
    """Confirms that the authenticator app now makes the right codes."""

    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=12,
        help_text="6 digits. A new code appears every 30 seconds.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split()).replace("-", "")
        if not (code.isdigit() and len(code) == 6):
            raise forms.ValidationError(
                "Type the 6 digits your authenticator app shows.", code="invalid_code"
            )
        return code


def check_current_password(request, user, password: str) -> None:
    """The person's current password, checked the way sign-in checks it: a wrong one
    counts towards the lockout and is recorded as a failed sign-in, so a computer left
    signed in cannot be used to guess it."""
    checked = authenticate(request, username=user.get_username(), password=password)
    if checked is None or checked.pk != user.pk:
        raise forms.ValidationError(
            "Your password was entered incorrectly. Please enter it again.",
            code="password_incorrect",
        )


class ConfirmedSetUpForm(SetUpAuthenticatorForm):
    """Setting up two-factor sign-in from a session signed in earlier: the current
    password first, so that a computer left signed in cannot be used to put someone
    else's phone on the account."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ["password", "code"]

    def __init__(self, *args, request=None, user=None, **kwargs) -> None:
        self.request, self.user = request, user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        check_current_password(self.request, self.user, password)
        return password


class CheckedPasswordChangeForm(PasswordChangeForm):
    """Django's, with the current password checked the way sign-in checks it: a wrong
    one counts towards the lockout and is recorded as a failed sign-in, so a computer
    left signed in cannot be used to guess it."""

    def __init__(self, user, *args, request=None, **kwargs) -> None:
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self) -> str:
        old_password = self.cleaned_data["old_password"]
        try:
            check_current_password(self.request, self.user, old_password)
        except forms.ValidationError:
            raise forms.ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            ) from None
        return old_password
