"""Placeholder: routes for the 'admin_models' group are being written."""

from flask import Blueprint

blueprint = Blueprint("admin_models", __name__)
