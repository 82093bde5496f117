"""Sign-in and registration forms."""

from __future__ import annotations

from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import Email, EqualTo, InputRequired, Length

from shop.forms import ShopForm


class LoginForm(ShopForm):
    email = EmailField(
        "Email", validators=[InputRequired("Enter your email address."), Length(max=254)]
    )
    password = PasswordField(
        "Password", validators=[InputRequired("Enter your password."), Length(max=200)]
    )


class RegisterForm(ShopForm):
    name = StringField("Your name", validators=[InputRequired("Enter your name."), Length(max=120)])
    email = EmailField(
        "Email",
        validators=[
            InputRequired("Enter your email address."),
            Email("Enter an email address like name@clinic.com.", check_deliverability=False),
            Length(max=254),
        ],
    )
    password = PasswordField(
        "Password",
        validators=[
            InputRequired("Choose a password."),
            Length(min=12, max=200, message="Use at least 12 characters."),
        ],
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[
            InputRequired("Repeat the password."),
            EqualTo("password", message="The two passwords differ."),
        ],
    )
