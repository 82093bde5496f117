"""Sign-in and registration forms."""

from __future__ import annotations

from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from shop.forms import ASCIIAddress, ShopForm, email_field


class LoginForm(ShopForm):
    email = EmailField(
        "Email",
        validators=[InputRequired("Enter your email address."), ASCIIAddress(), Length(max=254)],
    )
    password = PasswordField(
        "Password", validators=[InputRequired("Enter your password."), Length(max=200)]
    )


class RegisterForm(ShopForm):
    name = StringField("Your name", validators=[InputRequired("Enter your name."), Length(max=120)])
    email = email_field("name@clinic.com")
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
