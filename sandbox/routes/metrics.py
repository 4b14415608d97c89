"""Placeholder: routes for the 'metrics' group are being written."""

from flask import Blueprint

blueprint = Blueprint("metrics", __name__)
